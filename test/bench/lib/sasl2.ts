// The generator's client side of SASL2 (XEP-0388) with Bind 2 (XEP-0386), inline stream
// management (XEP-0198 §SASL2 and BIND2 interaction) and FAST (XEP-0484): a SCRAM-SHA-1 login
// that asks for a token, and a login with the token (HT-SHA-256-EXPR or -NONE,
// draft-schmaus-kitten-sasl-ht: one message each way). As conn.ts does, it reads only the one
// answer it waits for, with regular expressions, and checks what a client must (the server's
// SCRAM signature, the HT responder message).
import { createHmac, createSecretKey, type KeyObject } from "node:crypto";
import type { TLSSocket } from "node:tls";
import { Conn, LoginError } from "./conn.ts";
import { clientFinal, clientFirst } from "./scram.ts";

export const NS_SASL2 = "urn:xmpp:sasl:2";
export const NS_BIND2 = "urn:xmpp:bind:0";
export const NS_FAST = "urn:xmpp:fast:0";
export const NS_SM = "urn:xmpp:sm:3";

/** The HT mechanisms the generator can do, channel-bound first (a client "MUST" prefer binding). */
export const HT_MECHANISMS = ["HT-SHA-256-EXPR", "HT-SHA-256-NONE"] as const;
export type HtMechanism = (typeof HT_MECHANISMS)[number];

const OUTCOME = /<(success|failure|challenge)\s[^>]*xmlns=["']urn:xmpp:sasl:2["'][^>]*?(?:\/>|>[\s\S]*?<\/\1>)/;

/** What the stream features say of SASL2 and FAST. */
export interface Sasl2Offer {
  sasl2: boolean;
  mechanisms: string[];
  /** The first HT mechanism offered that the generator can do. */
  fast: HtMechanism | undefined;
}

export function sasl2Offer(features: string): Sasl2Offer {
  const auth = /<authentication\s[^>]*xmlns=["']urn:xmpp:sasl:2["'][\s\S]*?<\/authentication>/.exec(features)?.[0];
  if (!auth) return { sasl2: false, mechanisms: [], fast: undefined };
  const fastEl = /<fast\s[^>]*xmlns=["']urn:xmpp:fast:0["'][\s\S]*?<\/fast>/.exec(auth)?.[0] ?? "";
  const names = (text: string) => [...text.matchAll(/<mechanism>([^<]+)<\/mechanism>/g)].map((m) => m[1]!);
  const ht = names(fastEl);
  return {
    sasl2: true,
    mechanisms: names(auth.replace(fastEl, "")),
    fast: HT_MECHANISMS.find((m) => ht.includes(m)),
  };
}

/** A <user-agent/> (its id a UUID v4: FAST tokens belong to it, Bind 2 keeps the resource with it). */
export function userAgent(id: string): string {
  return `<user-agent id='${id}'><software>xmppd-bench</software></user-agent>`;
}

/** Bind 2 with XEP-0198 enabled, resumable. */
export const BIND_WITH_SM = `<bind xmlns='${NS_BIND2}'><tag>bench</tag><enable xmlns='${NS_SM}' resume='true'/></bind>`;

/** The parts of a SASL2 <success/> a reconnecting client keeps. */
export interface Sasl2Success {
  text: string;
  jid: string;
  /** The XEP-0198 id of a session bound with SM enabled (<bound><enabled/>). */
  smId: string | undefined;
  resumed: boolean;
  /** A new FAST token (asked for, or the used one rotated). */
  token: string | undefined;
}

function success(text: string): Sasl2Success {
  const attr = (el: string | undefined, name: string) => el && new RegExp(`\\s${name}=["']([^"']*)["']`).exec(el)?.[1];
  const enabled = /<enabled\s[^>]*>/.exec(/<bound[\s\S]*?<\/bound>/.exec(text)?.[0] ?? "")?.[0];
  return {
    text,
    jid: /<authorization-identifier>([^<]*)</.exec(text)?.[1] ?? "",
    smId: attr(enabled, "id") || undefined,
    resumed: /<resumed\s/.test(text),
    token: attr(/<token\s[^>]*>/.exec(text)?.[0], "token") || undefined,
  };
}

const additionalData = (text: string): Buffer | undefined => {
  const d = /<additional-data>([^<]*)</.exec(text)?.[1];
  return d === undefined ? undefined : Buffer.from(d, "base64");
};

/** A SASL2 SCRAM-SHA-1 login (RFC 5802, no channel binding) with the inline requests `inline` (XML text). */
export async function sasl2Scram(c: Conn, user: string, password: string, inline: string): Promise<Sasl2Success> {
  const state = clientFirst(user, password);
  c.send(`<authenticate xmlns='${NS_SASL2}' mechanism='SCRAM-SHA-1'><initial-response>${state.first64}</initial-response>${inline}</authenticate>`);
  const ch = (await c.expect(OUTCOME))[0];
  if (!ch.startsWith("<challenge")) throw new LoginError(`SASL2 SCRAM refused: ${ch}`);
  const { final64, serverSignature } = clientFinal(state, /<challenge[^>]*>([^<]*)</.exec(ch)?.[1] ?? "");
  c.send(`<response xmlns='${NS_SASL2}'>${final64}</response>`);
  const text = (await c.expect(OUTCOME))[0];
  if (!text.startsWith("<success")) throw new LoginError(`SASL2 SCRAM failed: ${text}`);
  if (additionalData(text)?.toString() !== `v=${serverSignature}`) throw new LoginError("bad server signature");
  return success(text);
}

/** A FAST token and what a client keeps with it: its mechanism and the replay counter. */
export class FastToken {
  readonly mechanism: HtMechanism;
  /** The token's UTF-8 octets as an HMAC key. */
  private key: KeyObject;
  private count = 0;

  constructor(token: string, mechanism: HtMechanism) {
    this.mechanism = mechanism;
    this.key = createSecretKey(Buffer.from(token, "utf8"));
  }

  /** A rotated token replaces this one (same mechanism). */
  replace(token: string): void {
    this.key = createSecretKey(Buffer.from(token, "utf8"));
  }

  /** HMAC(token, label || cb-data); the binding data of -EXPR is tls-exporter's (RFC 9266). */
  private hmac(c: Conn, label: "Initiator" | "Responder"): Buffer {
    const cb = this.mechanism === "HT-SHA-256-EXPR"
      ? (c.socket as TLSSocket).exportKeyingMaterial(32, "EXPORTER-Channel-Binding", Buffer.alloc(0)) : Buffer.alloc(0);
    return createHmac("sha256", this.key).update(label).update(cb).digest();
  }

  /** Logs in with the token, `inline` after <fast/>: one message each way. */
  async login(c: Conn, user: string, inline: string): Promise<Sasl2Success> {
    const initial = Buffer.concat([Buffer.from(`${user}\0`), this.hmac(c, "Initiator")]).toString("base64");
    c.send(`<authenticate xmlns='${NS_SASL2}' mechanism='${this.mechanism}'><initial-response>${initial}</initial-response>` +
      `<fast xmlns='${NS_FAST}' count='${++this.count}'/>${inline}</authenticate>`);
    const text = (await c.expect(OUTCOME))[0];
    if (!text.startsWith("<success")) throw new LoginError(`FAST failed: ${text}`);
    if (!additionalData(text)?.equals(this.hmac(c, "Responder"))) throw new LoginError("bad HT responder message");
    const s = success(text);
    if (s.token) this.replace(s.token);
    return s;
  }
}
