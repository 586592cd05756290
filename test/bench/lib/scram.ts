// The client side of SCRAM-SHA-1 (RFC 5802 §3, no channel binding). Hi() is the costly part;
// like a real client, the generator keeps the salted keys per (password, salt, iterations), so
// a login costs the server its work and the generator two HMACs. Their keys are KeyObjects: with
// a Buffer key, createHmac's own key checks tripled the cost of each.
import { createHash, createHmac, createSecretKey, pbkdf2Sync, randomBytes, type KeyObject } from "node:crypto";

export interface ScramState {
  user: string;
  password: string;
  nonce: string;
  bare: string;
  first64: string;
}

interface Keys { clientKey: Buffer; storedKey: KeyObject; serverKey: KeyObject }
const cache = new Map<string, Keys>();

/** RFC 5802 §5.1: saslname escapes ',' and '='. */
const saslName = (s: string): string => s.replace(/=/g, "=3D").replace(/,/g, "=2C");

export function clientFirst(user: string, password: string): ScramState {
  const nonce = randomBytes(18).toString("base64");
  const bare = `n=${saslName(user)},r=${nonce}`;
  return { user, password, nonce, bare, first64: Buffer.from(`n,,${bare}`).toString("base64") };
}

function keys(password: string, salt: string, iterations: number): Keys {
  const k = `${password}\0${salt}\0${iterations}`;
  let v = cache.get(k);
  if (!v) {
    const salted = pbkdf2Sync(password, Buffer.from(salt, "base64"), iterations, 20, "sha1");
    const clientKey = createHmac("sha1", salted).update("Client Key").digest();
    v = {
      clientKey,
      storedKey: createSecretKey(createHash("sha1").update(clientKey).digest()),
      serverKey: createSecretKey(createHmac("sha1", salted).update("Server Key").digest()),
    };
    cache.set(k, v);
  }
  return v;
}

/** From the server's first message (base64), the client's final message and the signature to expect. */
export function clientFinal(state: ScramState, challenge64: string): { final64: string; serverSignature: string } {
  const serverFirst = Buffer.from(challenge64, "base64").toString();
  const attrs = new Map(serverFirst.split(",").map((kv) => [kv[0], kv.slice(2)] as const));
  const r = attrs.get("r") ?? "";
  const s = attrs.get("s") ?? "";
  const i = Number(attrs.get("i"));
  if (!r.startsWith(state.nonce) || !s || !(i > 0)) throw new Error(`bad SCRAM challenge: ${serverFirst}`);
  const k = keys(state.password, s, i);
  const withoutProof = `c=biws,r=${r}`;
  const authMessage = `${state.bare},${serverFirst},${withoutProof}`;
  const signature = createHmac("sha1", k.storedKey).update(authMessage).digest();
  const proof = Buffer.alloc(20);
  for (let n = 0; n < 20; n++) proof[n] = k.clientKey[n]! ^ signature[n]!;
  const serverSignature = createHmac("sha1", k.serverKey).update(authMessage).digest("base64");
  return { final64: Buffer.from(`${withoutProof},p=${proof.toString("base64")}`).toString("base64"), serverSignature };
}
