// Converse.js, the browser client, in Chromium (headless, driven by puppeteer-core) against the
// server over wss:// (RFC 7395). A page served from loopback loads converse.js from npm and logs
// Romeo in; Juliet is a TCP client with a mutual subscription. Converse shows Juliet online,
// receives her message, sends one back from its own chat box, and shares a file through HTTP
// upload (XEP-0363: slot, PUT from the page's origin, the URL to Juliet); it enables stream
// management over the WebSocket as it does against Prosody and ejabberd.
import { existsSync, readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { extname, join, normalize } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import puppeteer, { type Browser, type Page } from "puppeteer-core";
import { xml } from "../../src/xml/element.ts";
import { startServer, type TestServer } from "../helpers/server.ts";
import { given, Im, presence } from "../helpers/im.ts";

const CHROMIUM = "/usr/bin/chromium";
const installed = existsSync(CHROMIUM);
const ci = process.env.CI === "true";
const dist = join(import.meta.dirname, "..", "..", "node_modules", "converse.js", "dist");
const TYPES: Record<string, string> = { ".js": "text/javascript", ".css": "text/css", ".json": "application/json", ".wasm": "application/wasm", ".html": "text/html" };

/** The page: converse.js with a plugin that hands its API to the test, and Romeo's login. */
const page = (websocketUrl: string) => `<!doctype html>
<html><head><meta charset="utf-8"><link rel="stylesheet" href="/dist/converse.min.css"></head>
<body><script type="module">
  import converse from "/dist/converse.min.js";
  window.seen = { connected: false, messages: [], error: null };
  converse.plugins.add("test-hooks", {
    initialize() {
      const { api } = this._converse;
      window.api = api;
      window.session = this._converse.session;
      api.listen.on("connected", () => { window.seen.connected = true; });
      api.listen.on("message", (data) => {
        const body = data.stanza && data.stanza.querySelector("body");
        if (body) window.seen.messages.push({ from: data.stanza.getAttribute("from"), body: body.textContent });
      });
    },
  });
  converse.initialize({
    websocket_url: ${JSON.stringify(websocketUrl)},
    discover_connection_methods: false,
    jid: "romeo@localhost/converse",
    password: "pw",
    auto_login: true,
    view_mode: "fullscreen",
    whitelisted_plugins: ["test-hooks"],
    loglevel: "info",
    play_sounds: false,
    show_desktop_notifications: false,
  }).catch((e) => { window.seen.error = String(e); });
</script></body></html>`;

let t: TestServer;
let web: Server;
let browser: Browser | undefined;

beforeAll(async () => {
  if (!installed) return;
  t = await startServer({ users: { romeo: "pw", juliet: "pw" } });
  await given(t, "romeo", "juliet", "both");
  await given(t, "juliet", "romeo", "both");
  const html = page(`wss://localhost:${t.server.ports.https}/xmpp-websocket`);
  web = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0]!;
    if (path === "/") {
      res.writeHead(200, { "content-type": "text/html" });
      return res.end(html);
    }
    // Converse fetches some files (its WebAssembly) relative to the page: both map onto dist/.
    const file = normalize(join(dist, path.replace(/^\/dist\//, "/")));
    if (!file.startsWith(dist) || !existsSync(file)) {
      res.writeHead(404);
      return res.end();
    }
    res.writeHead(200, { "content-type": TYPES[extname(file)] ?? "application/octet-stream" });
    res.end(readFileSync(file));
  });
  await new Promise<void>((r) => web.listen(0, "127.0.0.1", r));
  browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    // The server's certificate is the self-signed one made at start; no sandbox as root in CI.
    args: ["--no-sandbox", "--ignore-certificate-errors", "--disable-gpu", "--no-first-run"],
  });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  web?.close();
  await t?.stop();
});

/** What the page printed and threw, for the message of a failed wait. */
const consoleOf = new WeakMap<Page, string[]>();

/** Polls an expression in the page (it may be a promise) until it is truthy; its value. */
async function until<T>(p: Page, expression: string, what: string, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = (await p.evaluate(expression)) as T;
    if (v) return v;
    if (Date.now() > deadline) {
      const log = (consoleOf.get(p) ?? []).slice(-30).join("\n");
      throw new Error(`converse: no ${what}; page state ${JSON.stringify(await p.evaluate("window.seen"))}; console:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe.skipIf(!installed && !ci)("Converse.js in Chromium over wss://", () => {
  it("Chromium is installed in CI", () => expect(installed).toBe(true));

  it("logs in, sees Juliet online, receives her message and answers from its chat box", { timeout: 60_000 }, async () => {
    const juliet = await Im.login(t.port, "juliet", "desk");
    juliet.send(presence());
    const p = await browser!.newPage();
    const log: string[] = [];
    consoleOf.set(p, log);
    p.on("console", (m) => log.push(`${m.type()}: ${m.text()}`));
    p.on("pageerror", (e) => log.push(`pageerror: ${String(e)}`));
    const webPort = (web.address() as { port: number }).port;
    await p.goto(`http://127.0.0.1:${webPort}/`);
    await until(p, "window.seen.connected", "connection");

    // Converse sends its initial presence; Juliet, subscribed, sees it.
    const online = await juliet.next((el) => el.name === "presence" && el.attrs.from === "romeo@localhost/converse" && el.attrs.type === undefined, "Converse's presence", 20_000);
    expect(online.attrs.to).toBe("juliet@localhost");
    // And Converse's roster shows Juliet online.
    await until(p, `(async () => { const c = await window.api.contacts.get("juliet@localhost"); return (window.seen.juliet = c?.presence?.get("presence")) === "online"; })()`, "Juliet online in the roster");

    juliet.send(xml("message", { to: "romeo@localhost", type: "chat", id: "j1" }, xml("body", null, "Wherefore art thou, browser?")));
    const got = await until<{ from: string; body: string }[]>(p, "window.seen.messages.length > 0 && window.seen.messages", "Juliet's message");
    expect(got[0]).toEqual({ from: "juliet@localhost/desk", body: "Wherefore art thou, browser?" });

    await p.evaluate(`(async () => { const chat = await window.api.chats.open("juliet@localhost"); await chat.sendMessage({ body: "In Chromium, over a websocket." }); })()`);
    const answer = await juliet.next((el) => el.name === "message" && el.getChildText("body") !== null, "Converse's answer", 20_000);
    expect(answer.attrs.from).toBe("romeo@localhost/converse");
    expect(answer.getChildText("body")).toBe("In Chromium, over a websocket.");

    // A file from Converse's chat box (XEP-0363): it finds upload.localhost, asks for a slot, PUTs
    // the file from the page's origin (CORS) and sends Juliet the URL; the URL gives the file.
    await p.evaluate(`(async () => { const chat = await window.api.chats.get("juliet@localhost"); chat.sendFiles([new File(["a file from a browser"], "note.txt", { type: "text/plain" })]); })()`);
    const shared = await juliet.next((el) => el.name === "message" && el.getChild("x", "jabber:x:oob") !== undefined, "the shared file's URL", 20_000);
    const url = shared.getChild("x", "jabber:x:oob")!.getChildText("url")!;
    expect(url).toMatch(new RegExp(`^https://localhost:${t.server.ports.https}/upload/[\\w-]{22}/note\\.txt$`));
    expect(await (await fetch(url)).text()).toBe("a file from a browser");

    // Converse enabled stream management over the WebSocket (it then sends <r/> and acks).
    expect(await p.evaluate(`window.session.get("smacks_enabled")`)).toBe(true);
    await p.close();
    await juliet.stop();
  });
});
