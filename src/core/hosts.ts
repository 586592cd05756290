// Virtual hosts: the XMPP domains one server serves (RFC 6120 §2.1: a server "manages" one or
// more domains), each with its own accounts, admins and registration policy. The configuration's
// `domain` is the first (its settings are the top-level ones), `hosts` lists the others. Stores
// are keyed by bare JIDs, so the hosts share them without their keys meeting; each host's
// Accounts reads and writes only names at its own domain.
import { type JID, parseJid, tryParseJid } from "../xml/jid.ts";
import { Accounts } from "./accounts.ts";
import type { HostConfig } from "./config.ts";
import type { HostDirectory } from "./router.ts";
import { ConfigError } from "./schema.ts";
import type { StorageProvider } from "../storage/types.ts";

/** One served domain and what is its own. */
export interface VirtualHost {
  /** The domain as a JID (no local part, no resource). */
  readonly jid: JID;
  readonly domain: string;
  readonly accounts: Accounts;
  readonly registration: HostConfig["registration"];
  /** Bare JIDs (as strings) with administrative rights on this host. */
  admins: ReadonlySet<string>;
}

/** The served domains by name; the first is the configuration's `domain`. */
export class Hosts implements HostDirectory {
  readonly primary: VirtualHost;
  private readonly byDomain = new Map<string, VirtualHost>();

  /** `configs`: each domain's settings, the primary first. */
  constructor(configs: [domain: string, config: HostConfig][], storage: StorageProvider, iterations: number) {
    for (const [domain, config] of configs) {
      if (this.byDomain.has(domain)) throw new ConfigError(`hosts: ${domain} is the domain already (its settings are the top-level admins and registration)`);
      const jid = parseJid(domain);
      if (jid.local || jid.resource) throw new ConfigError(`domain: '${domain}' is not a domain`);
      this.byDomain.set(jid.domain, {
        jid, domain: jid.domain, accounts: new Accounts(storage, jid.domain, iterations),
        registration: config.registration, admins: adminSet(config.admins, jid.domain),
      });
    }
    this.primary = this.byDomain.values().next().value!;
  }

  /** The host of a domain this server serves; undefined for any other (a component's, a remote one). */
  get(domain: string): VirtualHost | undefined {
    return this.byDomain.get(domain);
  }

  has(domain: string): boolean {
    return this.byDomain.has(domain);
  }

  /** The host of an account's (or the host's own) address, when it is served here. */
  of(jid: JID): VirtualHost | undefined {
    return this.byDomain.get(jid.domain);
  }

  /** Whether the bare JID is an account of a hosted domain (HostDirectory, for the router). */
  exists(account: JID): Promise<boolean> {
    return this.byDomain.get(account.domain)?.accounts.exists(account.local) ?? Promise.resolve(false);
  }

  all(): IterableIterator<VirtualHost> {
    return this.byDomain.values();
  }

  get domains(): string[] {
    return [...this.byDomain.keys()];
  }

  get size(): number {
    return this.byDomain.size;
  }

  /** Whether `jid` (compared as a bare JID) is an admin of the host `domain` (default: the host of its own address). */
  isAdmin(jid: JID, domain = jid.domain): boolean {
    return this.byDomain.get(domain)?.admins.has(jid.bare.toString()) ?? false;
  }

  /** Replaces the admins of each host (a reload), all or none (a JID that does not parse changes nothing); returns whether any changed. */
  setAdmins(configs: [domain: string, admins: string[]][]): boolean {
    const next = configs.flatMap(([domain, admins]) => {
      const host = this.byDomain.get(domain);
      return host ? [[host, adminSet(admins, domain)] as const] : [];
    });
    let changed = false;
    for (const [host, admins] of next) {
      if ([...admins].sort().join() === [...host.admins].sort().join()) continue;
      host.admins = admins;
      changed = true;
    }
    return changed;
  }
}

function adminSet(admins: string[], domain: string): Set<string> {
  return new Set(admins.map((a) => {
    const jid = tryParseJid(a);
    if (!jid) throw new ConfigError(`admins of ${domain}: '${a}' is not a JID`);
    return jid.bare.toString();
  }));
}
