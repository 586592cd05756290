// SASL2 (XEP-0388) by hand over a RawClient: SCRAM written from RFC 5802 (as raw.ts does for
// RFC 6120's SASL), and the HT messages of FAST (XEP-0484), so that tests send exactly the
// elements of the XEPs' examples and read exactly what comes back.
import { createHash, createHmac, pbkdf2Sync, randomBytes } from "node:crypto";
import type { TLSSocket } from "node:tls";
import { FEATURES, OPEN, RawClient } from "./raw.ts";

export const SASL2 = "urn:xmpp:sasl:2";
export const BIND2 = "urn:xmpp:bind:0";
export const FAST = "urn:xmpp:fast:0";
export const SM = "urn:xmpp:sm:3";

const b64 = (s: string | Buffer) => Buffer.from(s).toString("base64");

/** A <user-agent/> with an id (a UUID v4) and the optional descriptions. */
export function userAgent(id: string, software = "AwesomeXMPP", device = "Kiva's Phone"): string {
  return `<user-agent id='${id}'><software>${software}</software><device>${device}</device></user-agent>`;
}

/** The channel binding data of the connection (what the server computes for itself). */
export function tlsExporter(c: RawClient): Buffer {
  return (c.socket as TLSSocket).exportKeyingMaterial(32, "EXPORTER-Channel-Binding", Buffer.alloc(0));
}

/** The text of the <success/>, <failure/> or <challenge/> that comes next. */
export function outcome(c: RawClient): Promise<string> {
  return c.expect(/<(success|failure|challenge) xmlns="urn:xmpp:sasl:2"[\s\S]*?<\/\1>|<(?:success|failure|challenge) xmlns="urn:xmpp:sasl:2"\/>/);
}

/** A SASL2 SCRAM-SHA-256 login: <authenticate/> with `inline` (XML text), the challenge, the response. Returns the <success/> or <failure/>. */
export async function scramLogin(c: RawClient, user: string, password: string, inline = "", plus = false): Promise<{ result: string; serverOk: boolean }> {
  const gs2 = plus ? "p=tls-exporter,," : "n,,";
  const nonce = randomBytes(18).toString("base64");
  const first = `n=${user},r=${nonce}`;
  c.send(`<authenticate xmlns='${SASL2}' mechanism='SCRAM-SHA-256${plus ? "-PLUS" : ""}'><initial-response>${b64(gs2 + first)}</initial-response>${inline}</authenticate>`);
  const ch = await outcome(c);
  if (!ch.startsWith("<challenge")) return { result: ch, serverOk: false };
  const serverFirst = Buffer.from(/>([^<]*)</.exec(ch)![1]!, "base64").toString();
  const attrs = Object.fromEntries(serverFirst.split(",").map((kv) => [kv[0], kv.slice(2)]));
  const salted = pbkdf2Sync(password, Buffer.from(attrs.s!, "base64"), Number(attrs.i), 32, "sha256");
  const clientKey = createHmac("sha256", salted).update("Client Key").digest();
  const storedKey = createHash("sha256").update(clientKey).digest();
  const cb = plus ? Buffer.concat([Buffer.from(gs2), tlsExporter(c)]) : Buffer.from(gs2);
  const withoutProof = `c=${cb.toString("base64")},r=${attrs.r}`;
  const authMessage = `${first},${serverFirst},${withoutProof}`;
  const sig = createHmac("sha256", storedKey).update(authMessage).digest();
  const proof = Buffer.from(clientKey.map((x, i) => x ^ sig[i]!));
  c.send(`<response xmlns='${SASL2}'>${b64(`${withoutProof},p=${proof.toString("base64")}`)}</response>`);
  const result = await outcome(c);
  const expected = `v=${createHmac("sha256", createHmac("sha256", salted).update("Server Key").digest()).update(authMessage).digest("base64")}`;
  const data = /<additional-data>([^<]*)</.exec(result)?.[1];
  return { result, serverOk: data !== undefined && Buffer.from(data, "base64").toString() === expected };
}

/** HMAC-SHA-256 keyed with the token's UTF-8 octets (draft-schmaus-kitten-sasl-ht). */
export function ht(token: string, label: "Initiator" | "Responder", cbData: Buffer = Buffer.alloc(0)): Buffer {
  return createHmac("sha256", token).update(label).update(cbData).digest();
}

/** A FAST login: HT-SHA-256-<suffix> with `token`, `<fast/>` attributes and more inline requests. Returns the <success/> or <failure/>. */
export async function fastLogin(c: RawClient, user: string, token: string, opts: { suffix?: "NONE" | "EXPR"; fast?: string; inline?: string } = {}): Promise<{ result: string; serverOk: boolean }> {
  const suffix = opts.suffix ?? "NONE";
  const cb: Buffer = suffix === "EXPR" ? tlsExporter(c) : Buffer.alloc(0);
  const initial = Buffer.concat([Buffer.from(`${user}\0`), ht(token, "Initiator", cb)]);
  c.send(`<authenticate xmlns='${SASL2}' mechanism='HT-SHA-256-${suffix}'><initial-response>${b64(initial)}</initial-response>` +
    `<fast xmlns='${FAST}'${opts.fast ?? ""}/>${opts.inline ?? ""}</authenticate>`);
  const result = await outcome(c);
  const data = /<additional-data>([^<]*)</.exec(result)?.[1];
  return { result, serverOk: data !== undefined && Buffer.from(data, "base64").equals(ht(token, "Responder", cb)) };
}

/** The token and expiry of a <success/>'s <token/>, if it has one. */
export function tokenOf(success: string): { token: string; expiry: string } | undefined {
  const el = /<token xmlns="urn:xmpp:fast:0"[^>]*\/>/.exec(success)?.[0];
  if (!el) return undefined;
  return { token: /token="([^"]+)"/.exec(el)![1]!, expiry: /expiry="([^"]+)"/.exec(el)![1]! };
}

/** A secure stream (STARTTLS, or direct TLS on `tlsPort`) and the features offered on it. */
export async function secureStream(port: number, direct = false): Promise<{ c: RawClient; features: string }> {
  if (!direct) return RawClient.stream(port);
  const c = await RawClient.connect(port, true);
  c.send(OPEN());
  return { c, features: await c.expect(FEATURES) };
}
