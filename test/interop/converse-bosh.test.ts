// Converse.js in Chromium against the server over BOSH (XEP-0124, XEP-0206) instead of WebSocket:
// its bosh_service_url is https://localhost:<port>/http-bind, another origin than the page's, so
// every request goes through a CORS preflight first. Romeo logs in (SASL, the xmpp:restart,
// binding), sees Juliet (a TCP client with a mutual subscription) online, receives her message
// while his long poll is held, and answers from his chat box; the server counts one BOSH session.
// Then he shares a file (XEP-0363) the way a user does, through the file input of his chat box's
// toolbar: Converse asks upload.localhost for a slot over BOSH, PUTs the file to the https URL
// (another origin again, so a preflight), and sends the GET URL as the body and an XEP-0066 <x/>;
// Juliet fetches that URL and gets the same bytes.
import type { Server } from "node:http";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
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
  ({ web, url: pageUrl } = await serveConverse({ bosh_service_url: `https://localhost:${t.server.ports.https}/http-bind` }));
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  web?.close();
  await t?.stop();
});

describe.skipIf(!installed && !ci)("Converse.js in Chromium over BOSH", () => {
  it("Chromium is installed in CI", () => expect(installed).toBe(true));

  it("logs in over https://…/http-bind, sees Juliet online, receives her message and answers", { timeout: 60_000 }, async () => {
    const juliet = await Im.login(t.port, "juliet", "desk");
    juliet.send(presence());
    const p = await openPage(browser!, pageUrl);
    await until(p, "window.seen.connected", "connection");
    expect(await p.evaluate("window.api.connection.get().service")).toBe(`https://localhost:${t.server.ports.https}/http-bind`);
    expect((await t.server.openConnections()).bosh).toBe(1);

    const online = await juliet.next((el) => el.name === "presence" && el.attrs.from === "romeo@localhost/converse" && el.attrs.type === undefined, "Converse's presence", 20_000);
    expect(online.attrs.to).toBe("juliet@localhost");
    await until(p, `(async () => { const c = await window.api.contacts.get("juliet@localhost"); return c?.presence?.get("presence") === "online"; })()`, "Juliet online in the roster");

    // Converse has a request held by now: Juliet's message is its answer.
    juliet.send(xml("message", { to: "romeo@localhost", type: "chat", id: "j1" }, xml("body", null, "Wherefore art thou, long poll?")));
    const got = await until<{ from: string; body: string }[]>(p, "window.seen.messages.length > 0 && window.seen.messages", "Juliet's message");
    expect(got[0]).toEqual({ from: "juliet@localhost/desk", body: "Wherefore art thou, long poll?" });

    await p.evaluate(`(async () => { const chat = await window.api.chats.open("juliet@localhost"); await chat.sendMessage({ body: "In Chromium, over BOSH." }); })()`);
    const answer = await juliet.next((el) => el.name === "message" && el.getChildText("body") !== null, "Converse's answer", 20_000);
    expect(answer.attrs.from).toBe("romeo@localhost/converse");
    expect(answer.getChildText("body")).toBe("In Chromium, over BOSH.");

    // Logging out: Juliet sees Romeo go. (Whether Converse's terminate request follows its
    // unavailable presence in time varies with load; the terminate itself is tested over raw
    // HTTP in test/integration/bosh.test.ts.)
    await p.evaluate("window.api.user.logout()");
    await juliet.next((el) => el.name === "presence" && el.attrs.from === "romeo@localhost/converse" && el.attrs.type === "unavailable", "Romeo's unavailable presence", 20_000);
    await p.close();
    await juliet.stop();
  });

  it("shares a file: the toolbar's file input, a slot from upload.localhost, a PUT over https, and Juliet fetches the same bytes", { timeout: 60_000 }, async () => {
    const juliet = await Im.login(t.port, "juliet", "desk");
    juliet.send(presence());
    const dir = mkdtempSync(join(tmpdir(), "converse-upload-"));
    const bytes = Buffer.from("Juliet, a file over BOSH: \u00e9\u00e8\u00ea\n");
    const file = join(dir, "balcony.txt");
    writeFileSync(file, bytes);
    const p = await openPage(browser!, pageUrl);
    try {
      await until(p, "window.seen.connected", "connection");
      await p.evaluate(`window.api.chats.open("juliet@localhost", {}, true)`);
      // The paperclip and its hidden input appear once disco#items and #info found the service.
      const input = await p.waitForSelector("converse-chat-toolbar input.fileupload", { timeout: 20_000 });
      await input!.uploadFile(file);

      const shared = await juliet.next((el) => el.name === "message" && el.getChild("x", "jabber:x:oob") !== undefined, "Converse's file message", 20_000);
      expect(shared.attrs.from).toBe("romeo@localhost/converse");
      const url = shared.getChild("x", "jabber:x:oob")!.getChildText("url")!;
      expect(shared.getChildText("body")).toBe(url);
      expect(url).toMatch(new RegExp(`^https://localhost:${t.server.ports.https}/upload/[^/]+/balcony\\.txt$`));
      const res = await fetch(url);
      expect(res.status).toBe(200);
      expect(Buffer.from(await res.arrayBuffer())).toEqual(bytes);
    } finally {
      await p.close();
      await juliet.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
