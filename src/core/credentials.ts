// Stored SASL credentials: SCRAM salted keys only (RFC 5802 §3, RFC 7677 §3), never the password.
// "The server stores ... StoredKey, ServerKey, salt and iteration count" — enough to run SCRAM and
// to check a PLAIN password (RFC 4616) by deriving StoredKey again, yet not enough to log in with.
// Passwords are prepared as an RFC 8265 §4.2 OpaqueString before hashing. Accounts (accounts.ts)
// store these; the SASL mechanisms (src/stream/sasl/) check logins against them.
import { createHmac, createSecretKey, hash as digest, pbkdf2, randomBytes, timingSafeEqual, type KeyObject } from "node:crypto";
import { promisify } from "node:util";

export type ScramHash = "SHA-1" | "SHA-256";

export interface ScramCredential {
  salt: string; // base64
  iterations: number;
  storedKey: string; // base64
  serverKey: string; // base64
}

export type Credentials = Partial<Record<ScramHash, ScramCredential>>;

/** Strongest first: the order PLAIN verification and mechanism offers prefer. */
export const SCRAM_HASHES: readonly ScramHash[] = ["SHA-256", "SHA-1"];

/** RFC 7677 §4: "the iteration count ... SHOULD be at least 4096". */
export const DEFAULT_ITERATIONS = 4096;

const SALT_BYTES = 16;
/** A stored count above this is treated as corrupt rather than run (it would stall the server). */
const MAX_ITERATIONS = 10_000_000;

const ALGORITHM: Record<ScramHash, { node: string; size: number }> = {
  "SHA-1": { node: "sha1", size: 20 },
  "SHA-256": { node: "sha256", size: 32 },
};

const pbkdf2Async = promisify(pbkdf2);

/** The output size of H() in bytes. */
export function hashSize(hash: ScramHash): number {
  return ALGORITHM[hash].size;
}

/** H(data) of RFC 5802 §2.2. */
export function scramH(hash: ScramHash, data: Buffer): Buffer {
  return digest(ALGORITHM[hash].node, data, "buffer");
}

/**
 * HMAC(key, str) of RFC 5802 §2.2. The key goes in as a KeyObject: createHmac's checks of a
 * Buffer key (is it a KeyObject? a CryptoKey?) made one HMAC 9.5 µs, against 3 µs with
 * createSecretKey's 0.5 µs included (Node 24): they were 16% of a SCRAM login's CPU.
 */
export function scramHmac(hash: ScramHash, key: Buffer | KeyObject, data: Buffer | string): Buffer {
  return createHmac(ALGORITHM[hash].node, Buffer.isBuffer(key) ? createSecretKey(key) : key).update(data).digest();
}

/** Hi(password, salt, i) of RFC 5802 §2.2, which is PBKDF2 with HMAC as the PRF; run off the event loop. */
export function saltedPassword(hash: ScramHash, password: string, salt: Buffer, iterations: number): Promise<Buffer> {
  const { node, size } = ALGORITHM[hash];
  return pbkdf2Async(Buffer.from(password, "utf8"), salt, iterations, size, node);
}

/**
 * RFC 8265 §4.2 OpaqueString, approximated: non-ASCII spaces map to U+0020, the result is NFC,
 * and control characters (and lone surrogates) are refused. Undefined when the password is unusable.
 */
export function preparePassword(password: string): string | undefined {
  const prepared = password.replace(/\p{Zs}/gu, " ").normalize("NFC");
  if (prepared.length === 0 || /[\p{Cc}\p{Cs}]/u.test(prepared)) return undefined;
  return prepared;
}

/** Builds one hash's credential from a password, a salt and an iteration count. */
export async function scramCredential(hash: ScramHash, password: string, salt: Buffer, iterations: number): Promise<ScramCredential> {
  const prepared = preparePassword(password);
  if (prepared === undefined) throw new RangeError("password is empty or contains control characters");
  if (!validIterations(iterations)) throw new RangeError(`iteration count must be an integer from 1 to ${MAX_ITERATIONS}`);
  const salted = await saltedPassword(hash, prepared, salt, iterations);
  return {
    salt: salt.toString("base64"),
    iterations,
    storedKey: scramH(hash, scramHmac(hash, salted, "Client Key")).toString("base64"),
    serverKey: scramHmac(hash, salted, "Server Key").toString("base64"),
  };
}

/** Both hashes' credentials, each with its own random 16-byte salt. */
export async function deriveCredentials(password: string, opts: { iterations?: number } = {}): Promise<Credentials> {
  const iterations = opts.iterations ?? DEFAULT_ITERATIONS;
  const [sha256, sha1] = await Promise.all([
    scramCredential("SHA-256", password, randomBytes(SALT_BYTES), iterations),
    scramCredential("SHA-1", password, randomBytes(SALT_BYTES), iterations),
  ]);
  return { "SHA-256": sha256, "SHA-1": sha1 };
}

/** A stored credential decoded and checked; undefined when it is corrupt. */
export interface ScramKeys {
  salt: Buffer;
  iterations: number;
  storedKey: Buffer;
  serverKey: Buffer;
}

export function decodeCredential(hash: ScramHash, cred: ScramCredential | undefined): ScramKeys | undefined {
  if (cred === undefined || !validIterations(cred.iterations)) return undefined;
  const salt = Buffer.from(cred.salt ?? "", "base64");
  const storedKey = Buffer.from(cred.storedKey ?? "", "base64");
  const serverKey = Buffer.from(cred.serverKey ?? "", "base64");
  const size = hashSize(hash);
  if (salt.length === 0 || storedKey.length !== size || serverKey.length !== size) return undefined;
  return { salt, iterations: cred.iterations, storedKey, serverKey };
}

/**
 * Checks a PLAIN password against stored credentials (the strongest hash present): derives
 * StoredKey again with the stored salt and count and compares in constant time.
 */
export async function verifyPassword(creds: Credentials, password: string): Promise<boolean> {
  for (const hash of SCRAM_HASHES) {
    const keys = decodeCredential(hash, creds[hash]);
    if (keys === undefined) continue;
    const prepared = preparePassword(password);
    // An unusable password still pays for the derivation, so the time does not tell it apart.
    const salted = await saltedPassword(hash, prepared ?? password, keys.salt, keys.iterations);
    const storedKey = scramH(hash, scramHmac(hash, salted, "Client Key"));
    return timingSafeEqual(storedKey, keys.storedKey) && prepared !== undefined;
  }
  return false;
}

/**
 * Credentials standing in for users that do not exist, so that neither the SCRAM challenge nor
 * the time a wrong password takes tells whether an account exists: the iteration count new
 * accounts get, and salt and keys derived from a server secret and the name (HMAC), so they stay
 * the same for a name across restarts and across the nodes sharing the secret, as a real
 * account's do. Unusable: a proof or password never matches keys nobody derived from a password.
 */
export class UnknownUsers {
  readonly #secret: KeyObject;
  readonly #iterations: number;

  constructor(secret: Buffer, iterations: number = DEFAULT_ITERATIONS) {
    this.#secret = createSecretKey(secret);
    this.#iterations = iterations;
  }

  /** Only the hashes asked for (a PLAIN check needs the strongest, a SCRAM exchange its own). */
  credentials(username: string, hashes: readonly ScramHash[] = SCRAM_HASHES): Credentials {
    const key = username.normalize("NFC").toLowerCase();
    const part = (label: string, hash: ScramHash, bytes: number): string =>
      createHmac("sha256", this.#secret).update(`${label}\0${hash}\0${key}`).digest().subarray(0, bytes).toString("base64");
    const out: Credentials = {};
    for (const hash of hashes) {
      out[hash] = {
        salt: part("salt", hash, SALT_BYTES),
        iterations: this.#iterations,
        storedKey: part("stored-key", hash, hashSize(hash)),
        // Used only after a proof matched, which never happens: not worth an HMAC.
        serverKey: Buffer.alloc(hashSize(hash)).toString("base64"),
      };
    }
    return out;
  }
}

/** The stand-ins of a SaslContext that names none (tests, tools): a secret of this process. */
export const PROCESS_UNKNOWN_USERS = new UnknownUsers(randomBytes(32));

/** Stable, unusable credentials standing in for a user that does not exist (this process's secret). */
export function fakeCredentials(username: string): Credentials {
  return PROCESS_UNKNOWN_USERS.credentials(username);
}

function validIterations(n: unknown): n is number {
  return typeof n === "number" && Number.isSafeInteger(n) && n >= 1 && n <= MAX_ITERATIONS;
}
