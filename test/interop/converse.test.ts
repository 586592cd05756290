// Converse.js, the browser client, in Chromium (headless, driven by puppeteer-core) against the
// server over wss:// (RFC 7395). A page served from loopback loads converse.js from npm and logs
// Romeo in; Juliet is a TCP client with a mutual subscription. Converse shows Juliet online,
// receives her message, sends one back from its own chat box, and shares a file through HTTP
// upload (XEP-0363: slot, PUT from the page's origin, the URL to Juliet); it enables stream
// management over the WebSocket as it does against Prosody and ejabberd.
import type { Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser } from "puppeteer-core";
import { xml } from "../../src/xml/element.ts";
import { startServer, type TestServer } from "../helpers/server.ts";
import { given, Im, presence } from "../helpers/im.ts";
import { ci, installed, launchChromium, openPage, serveConverse, until } from "./converse-page.ts";

let t: TestServer;
let web: Server;
let pageUrl: string;
let browser: Browser | undefined;

beforeAll(async () => {
  if (!installed) return;
  t = await startServer({ users: { romeo: "pw", juliet: "pw" } });
  await given(t, "romeo", "juliet", "both");
  await given(t, "juliet", "romeo", "both");
  ({ web, url: pageUrl } = await serveConverse({ websocket_url: `wss://localhost:${t.server.ports.https}/xmpp-websocket` }));
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  web?.close();
  await t?.stop();
});

describe.skipIf(!installed && !ci)("Converse.js in Chromium over wss://", () => {
  it("Chromium is installed in CI", () => expect(installed).toBe(true));

  it("logs in, sees Juliet online, receives her message and answers from its chat box", { timeout: 60_000 }, async () => {
    const juliet = await Im.login(t.port, "juliet", "desk");
    juliet.send(presence());
    const p = await openPage(browser!, pageUrl);
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
