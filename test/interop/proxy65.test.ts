// A file through the server's SOCKS5 Bytestreams proxy (XEP-0065) between two Debian
// python3-slixmpp clients and its XEP-0065 plugin: Romeo's client finds proxy.localhost in the
// server's disco#items, offers it to Juliet's, both connect to it and Romeo's activates; the
// file arrives whole (same SHA-256). The plugin knows only mediated connections, and both
// clients' sockets are shown connected to the port the proxy gave: the bytes went through it.
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { interopFixture } from "./agent.ts";

const fx = interopFixture({ romeo: "pw", juliet: "pw" });
const dir = mkdtempSync(join(tmpdir(), "xmppd-s5b-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

describe.skipIf(fx.missing)("a file through the proxy with slixmpp's XEP-0065 plugin", () => {
  it("Romeo sends Juliet 1 MiB through proxy.localhost; it arrives with the same hash", async () => {
    const file = randomBytes(1024 * 1024);
    const sent = join(dir, "balcony.bin");
    const received = join(dir, "received.bin");
    writeFileSync(sent, file);

    const juliet = await fx.connect("slixmpp", "juliet@localhost/balcony");
    const romeo = await fx.connect("slixmpp", "romeo@localhost/orchard");
    juliet.send({ cmd: "s5b_accept", path: received });
    romeo.send({ cmd: "s5b_send", to: "juliet@localhost/balcony", path: sent });

    // The one proxy found is the server's, at the address it advertises (the domain by default).
    const { proxies } = await romeo.next("s5b_proxies");
    expect(Object.keys(proxies as object)).toEqual(["proxy.localhost"]);
    const [host, port] = (proxies as Record<string, [string, number]>)["proxy.localhost"]!;
    expect(host).toBe("localhost");
    expect(port).not.toBe(fx.server.port);

    // Both ends of the bytestream are sockets to that port.
    const target = await juliet.next("s5b_stream", { role: "target" });
    const requester = await romeo.next("s5b_stream", { role: "requester" });
    expect((target.peer as [string, number])[1]).toBe(port);
    expect((requester.peer as [string, number])[1]).toBe(port);

    expect(await romeo.next("s5b_sent", {}, 20_000)).toMatchObject({ size: file.length, sha256: sha256(file) });
    expect(await juliet.next("s5b_received", {}, 20_000)).toMatchObject({ size: file.length, sha256: sha256(file) });
    expect(sha256(readFileSync(received))).toBe(sha256(file));
    expect(await romeo.quit()).toBe(0);
    expect(await juliet.quit()).toBe(0);
  }, 45_000);
});
