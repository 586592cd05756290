// XEP-0363 HTTP File Upload over real sockets: Romeo finds upload.localhost in the server's
// disco#items, asks for a slot, PUTs the file over HTTPS and Juliet GETs it (whole, a byte range,
// HEAD), with the headers that keep an uploaded page from running. The PUT URL takes exactly the
// file it was given for, once. Too large a file gets file-too-large with the limit; past the daily
// quota, resource-constraint with when to retry; a bad name or size, bad-request.
import { statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { xml, type Element } from "../../src/xml/element.ts";
import { startServer, type TestServer } from "../helpers/server.ts";
import { accounts, connect, errorOf, type Im } from "../helpers/im.ts";
import { removeAccount } from "../../src/core/account-removal.ts";
import { parseJid } from "../../src/xml/jid.ts";

const UPLOAD = "urn:xmpp:http:upload:0";
const DISCO_INFO = "http://jabber.org/protocol/disco#info";
const DISCO_ITEMS = "http://jabber.org/protocol/disco#items";

const request = (filename: string, size: number | string, type?: string) =>
  xml("iq", { type: "get", to: "upload.localhost" }, xml("request", { xmlns: UPLOAD, filename, size: String(size), "content-type": type }));

async function slot(c: Im, filename: string, size: number, type?: string): Promise<{ put: string; get: string }> {
  const r = await c.ask(request(filename, size, type));
  expect(r.attrs.type, r.toString()).toBe("result");
  const s = r.getChild("slot", UPLOAD)!;
  return { put: s.getChild("put")!.attrs.url!, get: s.getChild("get")!.attrs.url! };
}

const put = (url: string, body: string | Uint8Array, type?: string) =>
  fetch(url, { method: "PUT", body, headers: type ? { "content-type": type } : {} });

let t: TestServer;
beforeAll(async () => {
  t = await startServer({ config: { modules: { upload: { maxFileSize: 100_000, dailyQuota: 250_000 } } } });
});
afterAll(() => t.stop());

describe("XEP-0363 HTTP File Upload", () => {
  it("is found in the server's disco#items, and says what it takes (§2)", async () => {
    const [u] = await accounts(t, "disco");
    const c = await connect(t, u!);
    const items = await c.ask(xml("iq", { type: "get", to: "localhost" }, xml("query", { xmlns: DISCO_ITEMS })));
    expect(items.getChild("query")!.getChildren("item").map((i) => i.attrs.jid)).toContain("upload.localhost");
    const info = (await c.ask(xml("iq", { type: "get", to: "upload.localhost" }, xml("query", { xmlns: DISCO_INFO })))).getChild("query")!;
    expect(info.getChild("identity")!.attrs).toMatchObject({ category: "store", type: "file" });
    expect(info.getChildren("feature").map((f) => f.attrs.var)).toContain(UPLOAD);
    const fields = info.getChild("x", "jabber:x:data")!.getChildren("field");
    expect(fields.find((f) => f.attrs.var === "FORM_TYPE")!.getChildText("value")).toBe(UPLOAD);
    expect(fields.find((f) => f.attrs.var === "max-file-size")!.getChildText("value")).toBe("100000");
    await c.stop();
  });

  it("a slot, a PUT over HTTPS, and the file for anyone with the GET URL: whole, a range, HEAD; nothing served runs", async () => {
    const [romeo] = await accounts(t, "romeo");
    const r = await connect(t, romeo!);
    const body = "<html><script>alert('not here')</script></html>".repeat(20);
    const s = await slot(r, "balcony plan ✓.html", body.length, "text/html");
    expect(s.get).toMatch(new RegExp(`^https://localhost:${t.server.ports.https}/upload/[\\w-]{22}/balcony%20plan%20%E2%9C%93\\.html$`));
    expect(s.put.startsWith(`${s.get}?`)).toBe(true);
    expect((await fetch(s.get)).status).toBe(404); // nothing until the PUT
    expect((await put(s.put, body, "text/html")).status).toBe(201);

    const got = await fetch(s.get);
    expect(got.status).toBe(200);
    expect(await got.text()).toBe(body);
    expect(got.headers.get("content-type")).toBe("text/html");
    expect(got.headers.get("content-security-policy")).toContain("sandbox");
    expect(got.headers.get("x-content-type-options")).toBe("nosniff");
    expect(got.headers.get("access-control-allow-origin")).toBe("*");
    const part = await fetch(s.get, { headers: { range: "bytes=7-12" } });
    expect(part.status).toBe(206);
    expect(part.headers.get("content-range")).toBe(`bytes 7-12/${body.length}`);
    expect(await part.text()).toBe("script");
    expect((await fetch(s.get, { headers: { range: `bytes=${body.length}-` } })).status).toBe(416);
    const head = await fetch(s.get, { method: "HEAD" });
    expect(head.headers.get("content-length")).toBe(String(body.length));
    // A browser's preflight for the PUT is answered.
    const pre = await fetch(s.put, { method: "OPTIONS" });
    expect(pre.status).toBe(204);
    expect(pre.headers.get("access-control-allow-methods")).toContain("PUT");
    // The URL of another name in the same slot is not the file.
    expect((await fetch(s.get.replace(/[^/]+$/, "other.html"))).status).toBe(404);
    // Once only.
    expect((await put(s.put, body, "text/html")).status).toBe(409);
    // On disk, the server user's only.
    const folder = join(t.dataDir, "uploads", new URL(s.get).pathname.split("/")[2]!);
    for (const [p, m] of [[join(t.dataDir, "uploads"), 0o700], [folder, 0o700], [join(folder, "data"), 0o600], [join(folder, "meta.json"), 0o600]] as const) {
      expect(statSync(p).mode & 0o777, p).toBe(m);
    }
    await r.stop();
  });

  it("the PUT URL takes only the file it was given for: size, type, owner and token are checked", async () => {
    const [romeo] = await accounts(t, "romeo");
    const r = await connect(t, romeo!);
    const s = await slot(r, "photo.jpg", 4, "image/jpeg");
    expect((await put(s.put, "12345", "image/jpeg")).status).toBe(403); // another size
    expect((await put(s.put, "1234", "text/html")).status).toBe(403); // another type
    expect((await put(s.put.replace(/owner=[^&]+/, "owner=tybalt%40localhost"), "1234", "image/jpeg")).status).toBe(403);
    expect((await put(s.put.replace(/token=(\d+)\./, (_m, e: string) => `token=${Number(e) + 60_000}.`), "1234", "image/jpeg")).status).toBe(403);
    expect((await put(s.put.replace(/&token=.*$/, ""), "1234", "image/jpeg")).status).toBe(403);
    expect((await put(s.put, "1234", "image/jpeg")).status).toBe(201);
    expect(await (await fetch(s.get)).text()).toBe("1234");
    // A slot asked without a type takes the upload with any.
    const any = await slot(r, "notes.txt", 2);
    expect((await put(any.put, "hi", "text/plain")).status).toBe(201);
    expect((await fetch(any.get)).headers.get("content-type")).toBe("text/plain");
    await r.stop();
  });

  it("too large: not-acceptable with file-too-large and the limit; a bad name or size: bad-request (§4)", async () => {
    const [romeo] = await accounts(t, "romeo");
    const r = await connect(t, romeo!);
    const big = await r.ask(request("film.mp4", 100_001, "video/mp4"));
    expect(big.attrs.type).toBe("error");
    const err = big.getChild("error")!;
    expect(err.attrs.type).toBe("modify");
    expect(errorOf(big)).toBe("not-acceptable");
    expect(err.getChild("file-too-large", UPLOAD)!.getChildText("max-file-size")).toBe("100000");
    for (const bad of [request("a/b.txt", 3), request("..", 3), request("ok.txt", "-1"), request("ok.txt", "3 bytes"), request("ok.txt", 3, "text/plain\r\nx: y")]) {
      const e: Element = await r.ask(bad);
      expect(errorOf(e), bad.toString()).toBe("bad-request");
    }
    await r.stop();
  });

  it("a deleted account's files go with it", async () => {
    const [romeo] = await accounts(t, "romeo");
    const r = await connect(t, romeo!);
    const s = await slot(r, "mine.txt", 4);
    expect((await put(s.put, "mine")).status).toBe(201);
    expect((await fetch(s.get)).status).toBe(200);
    await r.stop();
    expect(await removeAccount(t.context, parseJid(`${romeo}@localhost`))).toBe(true);
    expect((await fetch(s.get)).status).toBe(404);
  });

  it("past the day's quota: resource-constraint, and when to retry (§4)", async () => {
    const [nurse] = await accounts(t, "nurse");
    const c = await connect(t, nurse!);
    await slot(c, "one.bin", 100_000);
    await slot(c, "two.bin", 100_000);
    const over = await c.ask(request("three.bin", 60_000));
    expect(errorOf(over)).toBe("resource-constraint");
    expect(over.getChild("error")!.attrs.type).toBe("wait");
    const stamp = over.getChild("error")!.getChild("retry", UPLOAD)!.attrs.stamp!;
    expect(new Date(stamp).getTime()).toBeGreaterThan(Date.now());
    expect(stamp).toMatch(/T00:00:00Z$/);
    // What is left of the quota is still given.
    await slot(c, "small.bin", 50_000);
    await c.stop();
  });
});
