// Fuzz target: SCRAM's client messages (src/stream/sasl/scram-message.ts, scram.ts). Whatever the
// client sends at either step, the mechanism answers with a challenge or an RFC 6120 §6.5
// failure for the input, never temporary-auth-failure (which stands for an exception inside).
import { UnknownUsers } from "../../../src/core/credentials.ts";
import type { ChannelBinding } from "../../../src/transports/transport.ts";
import type { SaslContext } from "../../../src/stream/sasl/mechanism.ts";
import { parseClientFinal, parseClientFirst } from "../../../src/stream/sasl/scram-message.ts";
import { scramMechanism } from "../../../src/stream/sasl/scram.ts";

const binding: ChannelBinding = { types: () => ["tls-exporter"], data: () => Buffer.alloc(32, 7) };
const context: SaslContext = {
  secure: true, channelBinding: binding, domain: "example.com", unknown: new UnknownUsers(Buffer.alloc(32, 1), 1),
  lookup: async () => undefined,
};
const ALLOWED = ["malformed-request", "invalid-authzid", "not-authorized"];

export async function fuzz(data: Buffer): Promise<void> {
  // The first byte picks the mechanism; a 0x00 byte, if any, splits client-first from client-final.
  const flags = data[0] ?? 0;
  const rest = data.subarray(1);
  const nul = rest.indexOf(0);
  const first = nul < 0 ? rest : rest.subarray(0, nul);
  const final = nul < 0 ? Buffer.from("c=biws,r=x,p=AAAA") : rest.subarray(nul + 1);
  for (const s of [first.toString("utf8"), final.toString("utf8")]) {
    for (const r of [parseClientFirst(s), parseClientFinal(s)]) if ("error" in r && r.error !== "malformed-request") throw new Error(`parser gave ${r.error}`);
  }
  const mech = scramMechanism({ hash: (flags & 1) === 0 ? "SHA-256" : "SHA-1", plus: (flags & 2) !== 0 });
  const session = mech.start(context);
  const one = await session.step(first);
  if (one.kind === "failure") {
    if (!ALLOWED.includes(one.condition)) throw new Error(`client-first got ${one.condition}`);
    return;
  }
  if (one.kind !== "challenge") throw new Error("client-first succeeded");
  // Half the time the client-final carries the server's nonce, so that what follows it is judged.
  const nonce = /r=([^,]*)/.exec(one.data.toString())?.[1] ?? "";
  const text = (flags & 4) !== 0 ? Buffer.concat([Buffer.from(`c=biws,r=${nonce},`), final]) : final;
  const two = await session.step(text);
  if (two.kind !== "failure" || !ALLOWED.includes(two.condition)) throw new Error(`client-final got ${two.kind === "failure" ? two.condition : two.kind}`);
}

export const seeds = [
  "\x00n,,n=juliet,r=abcdef\x00c=biws,r=abcdef,p=dHpbV6hNOGIc64O2YIphQA5JAhc=",
  "\x02p=tls-exporter,,n=juliet,r=abc\x00c=cD10bHMtZXhwb3J0ZXIsLA==,r=abc,p=AAAA",
  "\x05y,a=juliet@example.com,n=juliet,r=x,e=1\x00x=1,p=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
];
export const dictionary = ["n,,", "y,,", "p=tls-exporter,", "a=", "n=", "r=", "c=", "p=", "s=", "i=", "m=", "=2C", "=3D", ",", "\0", "biws", "="];
