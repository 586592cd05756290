// The web client the server serves (src/modules/webclient/), in Chromium (headless, driven by
// puppeteer-core): https://127.0.0.1:<port>/conversejs with the server's self-signed certificate.
// Romeo logs in through the page's own form, as a user would; Juliet is a TCP client with a
// mutual subscription. She sees him come online, her message shows in his chat, and his answer,
// typed in the chat box, reaches her. The page runs under its Content-Security-Policy: the test
// fails on any violation, and on any of the page's requests to the server that is not answered.
// The operator's settings set Converse.js in German, so a locale chunk (dist/chunkjs/) is loaded
// too, and OMEMO makes its keys with its WebAssembly. Nothing is fetched from another host.
import { existsSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import puppeteer, { type Browser, type Page } from "puppeteer-core";
import { xml } from "../../src/xml/element.ts";
import { startServer, type TestServer } from "../helpers/server.ts";
import { given, Im, presence } from "../helpers/im.ts";

const CHROMIUM = "/usr/bin/chromium";
const installed = existsSync(CHROMIUM);
const ci = process.env.CI === "true";

let t: TestServer;
let browser: Browser | undefined;

beforeAll(async () => {
  if (!installed) return;
  t = await startServer({ users: { romeo: "pw", juliet: "pw" }, config: { modules: { webclient: { settings: { i18n: "de" } } } } });
  await given(t, "romeo", "juliet", "both");
  await given(t, "juliet", "romeo", "both");
  browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    // The server's certificate is the self-signed one made at start; no sandbox as root in CI.
    args: ["--no-sandbox", "--ignore-certificate-errors", "--disable-gpu", "--no-first-run"],
  });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await t?.stop();
});

interface Seen { log: string[]; violations: string[]; failed: string[]; loaded: string[]; elsewhere: string[] }

/** What the page printed, broke and fetched, kept for the assertions and a failed wait's message. */
async function watch(p: Page): Promise<Seen> {
  const seen: Seen = { log: [], violations: [], failed: [], loaded: [], elsewhere: [] };
  p.on("request", (r) => {
    const url = new URL(r.url());
    if (url.protocol !== "data:" && url.protocol !== "blob:" && url.hostname !== "127.0.0.1") seen.elsewhere.push(r.url());
  });
  p.on("console", (m) => seen.log.push(`${m.type()}: ${m.text()}`));
  p.on("pageerror", (e) => seen.log.push(`pageerror: ${String(e)}`));
  p.on("requestfailed", (r) => seen.failed.push(`${r.url()}: ${r.failure()?.errorText}`));
  p.on("response", (r) => {
    const path = new URL(r.url()).pathname;
    if (r.status() >= 400) seen.failed.push(`${r.url()}: ${r.status()}`);
    else if (path.startsWith("/conversejs")) seen.loaded.push(path);
  });
  await p.exposeFunction("reportViolation", (v: string) => void seen.violations.push(v));
  await p.evaluateOnNewDocument(`document.addEventListener("securitypolicyviolation", (e) =>
    window.reportViolation(e.effectiveDirective + " " + e.blockedURI + " " + e.sourceFile + ":" + e.lineNumber));`);
  return seen;
}

/** Waits for an element of the page that matches a selector, naming what is awaited when it does not come. */
async function waitFor(p: Page, seen: Seen, selector: string, what: string, ms = 20_000): Promise<void> {
  try {
    await p.waitForSelector(selector, { timeout: ms });
  } catch {
    const body = await p.evaluate("document.body.innerText.slice(0, 2000)");
    throw new Error(`webclient: no ${what} (${selector}); page text ${JSON.stringify(body)}; violations ${JSON.stringify(seen.violations)}; failed ${JSON.stringify(seen.failed)}; console:\n${seen.log.slice(-30).join("\n")}`);
  }
}

describe.skipIf(!installed && !ci)("the served Converse.js in Chromium", () => {
  it("Chromium is installed in CI", () => expect(installed).toBe(true));

  it("logs Romeo in through its form, shows Juliet's message and sends his answer, under its CSP", { timeout: 90_000 }, async () => {
    const juliet = await Im.login(t.port, "juliet", "desk");
    juliet.send(presence());
    const p = await browser!.newPage();
    const seen = await watch(p);
    await p.goto(`https://127.0.0.1:${t.server.ports.https}/conversejs`);

    // The login form asks for the user name only (the domain is locked to the server's).
    await waitFor(p, seen, "#converse-login input[name=jid]", "login form");
    expect(await p.$eval("#converse-login", (f) => f.textContent)).toContain("@localhost");
    await p.type("#converse-login input[name=jid]", "romeo");
    await p.type("#converse-login input[name=password]", "pw");
    await p.click("#converse-login button[type=submit]");

    // Converse connects over wss://, binds and sends its initial presence, which Juliet sees.
    const online = await juliet.next((el) => el.name === "presence" && el.attrs.from?.startsWith("romeo@localhost/") === true && el.attrs.type === undefined, "Romeo's presence from the page", 30_000);
    const romeo = online.attrs.from!;

    // Her message marks her unread in his contacts; he opens her chat from there.
    juliet.send(xml("message", { to: "romeo@localhost", type: "chat", id: "j1" }, xml("body", null, "Wherefore art thou, browser?")));
    const contact = `a.open-chat.unread-msgs[data-jid="juliet@localhost"]`;
    await waitFor(p, seen, contact, "Juliet unread in the contacts");
    await p.click(contact);
    await waitFor(p, seen, "converse-chat-message .chat-msg__text", "Juliet's message in a chat");
    expect(await p.$eval("converse-chat-message .chat-msg__text", (e) => e.textContent)).toContain("Wherefore art thou, browser?");

    await p.type("textarea.chat-textarea", "In Chromium, from the server's own page.");
    await p.keyboard.press("Enter");
    const answer = await juliet.next((el) => el.name === "message" && el.getChildText("body") !== null, "Romeo's answer", 20_000);
    expect(answer.attrs.from).toBe(romeo);
    expect(answer.getChildText("body")).toBe("In Chromium, from the server's own page.");

    expect(seen.violations).toEqual([]);
    expect(seen.elsewhere).toEqual([]);
    expect(seen.failed).toEqual([]);
    expect(seen.loaded).toContain("/conversejs/dist/converse.min.js");
    expect(seen.loaded).toContain("/conversejs/dist/converse.min.css");
    expect(seen.loaded.some((path) => path.startsWith("/conversejs/dist/chunkjs/locales/de"))).toBe(true);
    // OMEMO's keys were made with its WebAssembly, which the policy lets run.
    expect(seen.loaded).toContain("/conversejs/dist/curve25519_compiled.wasm");
    await p.close();
    await juliet.stop();
  });
});
