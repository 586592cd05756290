// Certificates from an ACME CA (RFC 8555), kept valid while the server runs: at start and then
// twice a day it looks at the certificate it has (store.ts); one missing, for other names, or
// within acme.renewDays of its end is ordered again: the account (§7.3), an order for the names
// (§7.4), each authorization proven by HTTP-01 on the HTTP listener (§8.3, challenges.ts), the
// order finalized with a CSR for a new key (csr.ts), the chain downloaded and installed, and the
// server's certificates read again (the listeners present it to new connections; open ones keep
// theirs). A failure is logged and tried again later, the wait doubling up to half a day (or
// what the CA's Retry-After asks); the server goes on with the certificates it has.
import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import { domainToASCII } from "node:url";
import type { HttpRoutes } from "../../transports/http.ts";
import type { Logger } from "../log.ts";
import { ConfigError } from "../schema.ts";
import { CHALLENGE_PREFIX, Http01Responder } from "./challenges.ts";
import { AcmeClient, AcmeError, describeProblem, type Authorization, type Order } from "./client.ts";
import { makeCsr, newCertificateKey, type KeyType } from "./csr.ts";
import { AccountKey } from "./jws.ts";
import { accountKeyPem, installCertificate, installedCertificate } from "./store.ts";

/** The acme section of the configuration. */
export interface AcmeSettings {
  directory: string;
  email: string | undefined;
  acceptTerms: boolean;
  domains: string[];
  renewDays: number;
  keyType: KeyType;
  caFile: string | undefined;
}

export interface AcmeHost {
  dataDir: string;
  /** The HTTP listeners' routes, where the challenges are answered. */
  routes: HttpRoutes;
  /** A certificate was installed: the server reads its certificates again. */
  installed(): void;
  log: Logger;
}

const DAY_MS = 86_400_000;
/** How often the certificate is looked at when nothing is due. */
const CHECK_EVERY_MS = DAY_MS / 2;
/** The first wait after a failure, doubling with each one after it, up to the most. */
const FIRST_RETRY_MS = 60_000;
const MOST_RETRY_MS = DAY_MS / 2;
/** How long one authorization or the order may stay pending or processing. */
const POLL_LIMIT_MS = 180_000;
const REQUEST_TIMEOUT_MS = 30_000;

/** The names a certificate is ordered for: acme.domains, or the server's own; each checked (HTTP-01 proves no wildcard, no address). */
export function acmeNames(configured: readonly string[], served: readonly string[]): string[] {
  const key = configured.length > 0 ? "acme.domains" : "acme (the domain and its services, acme.domains left empty)";
  const names = (configured.length > 0 ? configured : served).map((n) => {
    const ascii = domainToASCII(n.replace(/\.$/, "")).toLowerCase();
    if (n.includes("*")) throw new ConfigError(`${key}: ${n}: a wildcard needs the DNS-01 challenge; HTTP-01 proves one name at a time`);
    if (ascii === "" || isIP(n) !== 0 || !ascii.includes(".")) throw new ConfigError(`${key}: ${n} is not a public DNS name`);
    return ascii;
  });
  return [...new Set(names)];
}

export class AcmeService {
  readonly names: readonly string[];
  private readonly settings: AcmeSettings;
  private readonly host: AcmeHost;
  private readonly responder = new Http01Responder();
  /** The client and its account key, once the account is ready. */
  private client: { acme: AcmeClient; thumbprint: string } | undefined;
  private timer: NodeJS.Timeout | undefined;
  private removeRoute: (() => void) | undefined;
  private running: Promise<boolean> | undefined;
  private failures = 0;
  private stopped = false;

  /** Throws ConfigError for settings that cannot work (terms not accepted, names HTTP-01 cannot prove). */
  constructor(settings: AcmeSettings, names: readonly string[], host: AcmeHost) {
    if (!settings.acceptTerms) throw new ConfigError("acme.acceptTerms: read the CA's terms of service (its directory links them), then set it to true");
    this.settings = settings;
    this.names = names;
    this.host = host;
  }

  /** Answers challenges from now on, and looks at the certificate at once. */
  start(): void {
    this.removeRoute = this.host.routes.add(CHALLENGE_PREFIX, this.responder.handle);
    this.schedule(0);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.removeRoute?.();
  }

  /**
   * Orders a certificate when one is due (or `force`d), and installs it: true when it did. One at a
   * time: a call while one runs waits for that one. Rejects with what failed.
   */
  renew(force = false): Promise<boolean> {
    this.running ??= this.renewIfDue(force).finally(() => (this.running = undefined));
    return this.running;
  }

  private async renewIfDue(force: boolean): Promise<boolean> {
    if (!force && this.dueIn() > 0) return false;
    await this.obtain();
    return true;
  }

  /**
   * Ms until the certificate is to be renewed: 0 when it is now (none, other names, close to its
   * end). Close is acme.renewDays before the end, or the last third of a certificate that lives
   * shorter than three times that (a CA's short-lived certificates).
   */
  private dueIn(): number {
    const have = installedCertificate(this.host.dataDir, this.names);
    if (have === undefined) return 0;
    if ([...have.names].sort().join() !== [...this.names].sort().join()) return 0;
    const ahead = Math.min(this.settings.renewDays * DAY_MS, (have.notAfter - have.notBefore) / 3);
    return Math.max(0, have.notAfter - ahead - Date.now());
  }

  private schedule(ms: number): void {
    clearTimeout(this.timer);
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.tick(), ms).unref();
  }

  private async tick(): Promise<void> {
    try {
      await this.renew();
      this.failures = 0;
      // Never sooner than the first retry: a CA whose certificates are due as soon as issued is not asked in a loop.
      this.schedule(Math.max(FIRST_RETRY_MS, Math.min(CHECK_EVERY_MS, this.dueIn())));
    } catch (e) {
      if (this.stopped) return;
      const backoff = Math.min(MOST_RETRY_MS, FIRST_RETRY_MS * 2 ** this.failures++);
      const wait = Math.max(backoff, e instanceof AcmeError ? e.retryAfterMs ?? 0 : 0);
      this.host.log.warn({ err: e, names: this.names, retryInSeconds: Math.round(wait / 1000) }, "acme: no certificate from the CA");
      this.schedule(wait);
    }
  }

  /** The account, an order, its authorizations, finalization, download and installation. */
  private async obtain(): Promise<void> {
    const { acme: client, thumbprint } = this.client ?? (await this.connect());
    const { url, order } = await client.newOrder(this.names);
    this.host.log.info({ names: this.names, order: url }, "acme: certificate ordered");
    // Each proven while the others are; the first failure is reported once all have ended.
    const proofs = await Promise.allSettled(order.authorizations.map((a) => this.authorize(client, a, thumbprint)));
    const failed = proofs.find((p) => p.status === "rejected");
    if (failed) throw failed.reason;
    const ready = await this.poll<Order>(client, url, (o) => o.status !== "pending");
    if (ready.status !== "ready" && ready.status !== "valid") throw new AcmeError(`order ${url} is ${ready.status}: ${describeProblem(ready.error)}`);
    const key = newCertificateKey(this.settings.keyType);
    let done = ready.status === "valid" ? ready : await client.finalize(ready, makeCsr(key, this.names));
    if (done.status !== "valid") done = await this.poll<Order>(client, url, (o) => o.status !== "processing" && o.status !== "ready");
    if (done.status !== "valid" || done.certificate === undefined) throw new AcmeError(`order ${url} is ${done.status}: ${describeProblem(done.error)}`);
    const chain = await client.certificate(done.certificate);
    if (this.stopped) return;
    const path = installCertificate(this.host.dataDir, this.names, chain, key.export({ type: "pkcs8", format: "pem" }) as string);
    this.host.log.info({ names: this.names, path }, "acme: certificate installed");
    this.host.installed();
  }

  private async connect(): Promise<{ acme: AcmeClient; thumbprint: string }> {
    const { caFile, directory, email } = this.settings;
    const ca = caFile === undefined ? undefined : [readFileSync(caFile, "utf8")];
    const key = new AccountKey(accountKeyPem(this.host.dataDir));
    const acme = new AcmeClient(directory, key, { ca, timeoutMs: REQUEST_TIMEOUT_MS });
    const account = await acme.account(email, this.settings.acceptTerms);
    this.host.log.info({ account }, "acme: account ready");
    this.client = { acme, thumbprint: key.thumbprint() };
    return this.client;
  }

  /** Proves one authorization by HTTP-01, unless the CA holds it valid already (§7.1.4: reused). */
  private async authorize(client: AcmeClient, url: string, thumbprint: string): Promise<void> {
    const authz = (await client.read<Authorization>(url)).value;
    if (authz.status === "valid") return;
    const name = authz.identifier.value;
    if (authz.status !== "pending") throw new AcmeError(`authorization of ${name} is ${authz.status}`);
    const challenge = authz.challenges.find((c) => c.type === "http-01");
    if (challenge === undefined) throw new AcmeError(`the CA offers no http-01 challenge for ${name}`);
    this.responder.add(challenge.token, `${challenge.token}.${thumbprint}`);
    try {
      await client.respond(challenge.url);
      const end = await this.poll<Authorization>(client, url, (a) => a.status !== "pending");
      if (end.status !== "valid") {
        const why = end.challenges.find((c) => c.type === "http-01")?.error;
        throw new AcmeError(`${name}: the CA could not fetch http://${name}${CHALLENGE_PREFIX}${challenge.token} (is port 80 of ${name} this server's HTTP listener?): ${describeProblem(why)}`);
      }
    } finally {
      this.responder.remove(challenge.token);
    }
  }

  /** Reads `url` until `done` says so, waiting what the CA asks (Retry-After) or a growing while. */
  private async poll<T>(client: AcmeClient, url: string, done: (v: T) => boolean): Promise<T> {
    const deadline = Date.now() + POLL_LIMIT_MS;
    for (let i = 0; ; i++) {
      const { value, retryAfterMs } = await client.read<T>(url);
      if (done(value)) return value;
      if (this.stopped) throw new AcmeError("the server is stopping");
      if (Date.now() > deadline) throw new AcmeError(`${url}: still not done after ${POLL_LIMIT_MS / 1000} s`);
      const wait = Math.min(retryAfterMs ?? 250 * 2 ** i, 10_000);
      await new Promise((r) => setTimeout(r, wait));
    }
  }
}
