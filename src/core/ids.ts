// Random tokens (stream ids, connection ids, SCRAM nonces, resumption ids) come from one pool of
// CSPRNG bytes refilled 4 KiB at a time: randomBytes() per token cost 1.8 µs, the pool 0.07 µs,
// and a login takes four of them. The bytes are the same kind (randomFillSync); each is used once.
import { randomFillSync } from "node:crypto";

const POOL_SIZE = 4096;
const pool = Buffer.allocUnsafe(POOL_SIZE);
let poolOffset = POOL_SIZE;

/** `bytes` fresh random bytes (at most 256) in `encoding`. */
export function randomToken(bytes: number, encoding: "hex" | "base64" | "base64url"): string {
  if (!(bytes > 0 && bytes <= 256)) throw new RangeError(`token of ${bytes} bytes`);
  if (poolOffset + bytes > POOL_SIZE) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const s = pool.toString(encoding, poolOffset, poolOffset + bytes);
  poolOffset += bytes;
  return s;
}
