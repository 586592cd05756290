// An ACME client (RFC 8555): the directory (§7.1.1), nonces (§7.2) with a request sent again on
// badNonce (§6.5: "clients SHOULD retry"), the account (§7.3), an order (§7.4), its
// authorizations and their challenges (§7.5), finalization with a CSR and the certificate's
// download (§7.4.2). What is done with them (which challenge, where the certificate goes) is
// service.ts's.
import { httpsRequest, type HttpAnswer, type HttpOptions } from "./http.ts";
import type { AccountKey } from "./jws.ts";

export interface Directory {
  newNonce: string;
  newAccount: string;
  newOrder: string;
  meta?: { termsOfService?: string };
}

export type Status = "pending" | "ready" | "processing" | "valid" | "invalid" | "expired" | "deactivated" | "revoked";

export interface Order {
  status: Status;
  identifiers: { type: string; value: string }[];
  authorizations: string[];
  finalize: string;
  certificate?: string;
  error?: Problem;
}

export interface Challenge { type: string; url: string; token: string; status: Status; error?: Problem }

export interface Authorization {
  identifier: { type: string; value: string };
  status: Status;
  challenges: Challenge[];
}

/** An error document (RFC 7807, RFC 8555 §6.7). */
export interface Problem { type?: string; detail?: string; subproblems?: Problem[] }

/** The CA refused a request: its problem document, and how long it asks to wait (Retry-After) if it said. */
export class AcmeError extends Error {
  readonly type: string | undefined;
  readonly retryAfterMs: number | undefined;
  constructor(message: string, type?: string, retryAfterMs?: number) {
    super(message);
    this.type = type;
    this.retryAfterMs = retryAfterMs;
  }
}

const ERROR_NS = "urn:ietf:params:acme:error:";
/** How many times a request goes again after badNonce. */
const NONCE_RETRIES = 5;

/** A problem document in one line: its type, detail and those of its subproblems. */
export function describeProblem(p: Problem | undefined): string {
  if (p === undefined) return "no detail";
  const own = `${(p.type ?? "").replace(ERROR_NS, "") || "error"}: ${p.detail ?? "no detail"}`;
  const sub = (p.subproblems ?? []).map((s) => describeProblem(s));
  return sub.length > 0 ? `${own} (${sub.join("; ")})` : own;
}

/** Retry-After (RFC 9110 §10.2.3), seconds or a date, in ms from now. */
export function retryAfter(headers: HttpAnswer["headers"]): number | undefined {
  const v = headers["retry-after"];
  if (v === undefined) return undefined;
  const seconds = Number(v);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

export class AcmeClient {
  private readonly directoryUrl: string;
  private readonly key: AccountKey;
  private readonly http: HttpOptions;
  private dir: Directory | undefined;
  private nonces: string[] = [];
  /** The account's URL, once created or found (§7.3). */
  private kid: string | undefined;

  constructor(directoryUrl: string, key: AccountKey, http: HttpOptions) {
    this.directoryUrl = directoryUrl;
    this.key = key;
    this.http = http;
  }

  async directory(): Promise<Directory> {
    if (this.dir === undefined) {
      const answer = await httpsRequest(this.directoryUrl, "GET", this.http);
      if (answer.status !== 200) throw new AcmeError(`directory ${this.directoryUrl}: HTTP ${answer.status}`);
      const dir = json(answer) as Directory;
      if (typeof dir.newNonce !== "string" || typeof dir.newAccount !== "string" || typeof dir.newOrder !== "string") {
        throw new AcmeError(`${this.directoryUrl} is not an ACME directory`);
      }
      this.dir = dir;
    }
    return this.dir;
  }

  /**
   * Creates the account of this key, or finds it (§7.3.1: the same key gives the account it has).
   * `agreed`: the CA's terms of service are accepted.
   */
  async account(email: string | undefined, agreed: boolean): Promise<string> {
    const dir = await this.directory();
    const payload = { termsOfServiceAgreed: agreed, ...(email === undefined ? {} : { contact: [`mailto:${email}`] }) };
    const answer = await this.post(dir.newAccount, payload, false);
    const location = answer.headers.location;
    if (location === undefined) throw new AcmeError("the CA's account answer has no Location");
    this.kid = location;
    return location;
  }

  /** A new order for these DNS names (§7.4): its URL and the order. */
  async newOrder(names: readonly string[]): Promise<{ url: string; order: Order }> {
    const dir = await this.directory();
    const answer = await this.post(dir.newOrder, { identifiers: names.map((value) => ({ type: "dns", value })) });
    const url = answer.headers.location;
    if (url === undefined) throw new AcmeError("the CA's order answer has no Location");
    return { url, order: json(answer) as Order };
  }

  /** A resource read by POST-as-GET (§6.3): an order, an authorization. */
  async read<T>(url: string): Promise<{ value: T; retryAfterMs: number | undefined }> {
    const answer = await this.post(url, undefined);
    return { value: json(answer) as T, retryAfterMs: retryAfter(answer.headers) };
  }

  /** Tells the CA the challenge is ready to be checked (§7.5.1: an empty object). */
  async respond(challengeUrl: string): Promise<void> {
    await this.post(challengeUrl, {});
  }

  /** Finalizes an order with the CSR's DER (§7.4). */
  async finalize(order: Order, csr: Buffer): Promise<Order> {
    return json(await this.post(order.finalize, { csr: csr.toString("base64url") })) as Order;
  }

  /** The certificate chain, PEM (§7.4.2): the leaf first. */
  async certificate(url: string): Promise<string> {
    const answer = await this.post(url, undefined, true, { accept: "application/pem-certificate-chain" });
    const pem = answer.body.toString("utf8");
    if (!pem.includes("-----BEGIN CERTIFICATE-----")) throw new AcmeError("the CA's certificate download is not PEM");
    return pem;
  }

  /** A signed POST (§6.2), sent again with a fresh nonce on badNonce; a problem answer throws AcmeError. */
  private async post(url: string, payload: unknown, withKid = true, headers: Record<string, string> = {}): Promise<HttpAnswer> {
    if (withKid && this.kid === undefined) throw new AcmeError("no ACME account yet");
    for (let attempt = 0; ; attempt++) {
      const jws = this.key.sign(url, await this.nonce(), payload, withKid ? this.kid : undefined);
      const answer = await httpsRequest(url, "POST", this.http, JSON.stringify(jws), headers);
      this.keepNonce(answer);
      if (answer.status < 400) return answer;
      const problem = problemOf(answer);
      if (problem.type === `${ERROR_NS}badNonce` && attempt < NONCE_RETRIES) continue;
      throw new AcmeError(`${url}: HTTP ${answer.status}, ${describeProblem(problem)}`, problem.type, retryAfter(answer.headers));
    }
  }

  private async nonce(): Promise<string> {
    const kept = this.nonces.pop();
    if (kept !== undefined) return kept;
    const answer = await httpsRequest((await this.directory()).newNonce, "HEAD", this.http);
    const nonce = answer.headers["replay-nonce"];
    if (typeof nonce !== "string") throw new AcmeError(`newNonce: HTTP ${answer.status}, no Replay-Nonce`);
    return nonce;
  }

  /** §7.2: every answer carries a fresh nonce, which the next request may use. */
  private keepNonce(answer: HttpAnswer): void {
    const nonce = answer.headers["replay-nonce"];
    if (typeof nonce === "string") this.nonces = [nonce];
  }
}

function json(answer: HttpAnswer): unknown {
  try {
    return JSON.parse(answer.body.toString("utf8"));
  } catch {
    throw new AcmeError(`the CA's answer is not JSON (HTTP ${answer.status})`);
  }
}

function problemOf(answer: HttpAnswer): Problem {
  try {
    const p = JSON.parse(answer.body.toString("utf8")) as Problem;
    return typeof p === "object" && p !== null ? p : {};
  } catch {
    return { detail: `HTTP ${answer.status}` };
  }
}
