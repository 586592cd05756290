// Archiving preferences (XEP-0441, split from XEP-0313 0.7; same namespace): a default of always,
// never or roster, and lists of JIDs always or never archived. Stored per account; applied to
// the counterpart of each message (§2.3.2, §2.3.3: the 'to' of outgoing, the 'from' of incoming messages).
import { elementChildren, xml, type Element } from "../../xml/element.ts";
import { NS } from "../../xml/ns.ts";
import { type JID, tryParseJid } from "../../xml/jid.ts";
import { StanzaError } from "../../core/errors.ts";
import type { KeyValueStore } from "../../storage/types.ts";

export const DEFAULTS = ["always", "never", "roster"] as const;
export type ArchiveDefault = (typeof DEFAULTS)[number];

export interface Prefs {
  default: ArchiveDefault;
  always: string[];
  never: string[];
}

/** JIDs per list at most: each message is matched against both. */
export const MAX_JIDS = 1000;

function jidList(el: Element | undefined, name: string): string[] {
  if (!el) return [];
  const out = new Set<string>();
  for (const j of elementChildren(el)) {
    if (j.name !== "jid") continue;
    const jid = tryParseJid(j.getText().trim());
    if (!jid) throw new StanzaError("bad-request", `<${name}/> holds something that is not a JID: ${j.getText()}`);
    out.add(jid.toString());
  }
  if (out.size > MAX_JIDS) throw new StanzaError("not-acceptable", `at most ${MAX_JIDS} JIDs in <${name}/>`);
  return [...out];
}

/** The <prefs/> of an iq set. §2.1.1: 'default' "MUST be one of" always, never, roster; lists may be missing (empty). */
export function parsePrefs(el: Element): Prefs {
  const def = el.attrs.default;
  if (!(DEFAULTS as readonly (string | undefined)[]).includes(def)) {
    throw new StanzaError("bad-request", "'default' must be always, never or roster");
  }
  return {
    default: def as ArchiveDefault,
    always: jidList(el.getChild("always"), "always"),
    never: jidList(el.getChild("never"), "never"),
  };
}

/** §2.1: the reply always has both lists, even when empty. */
export function prefsElement(p: Prefs): Element {
  return xml("prefs", { xmlns: NS.mam, default: p.default },
    xml("always", null, p.always.map((j) => xml("jid", null, j))),
    xml("never", null, p.never.map((j) => xml("jid", null, j))));
}

/** §2.3.1: a listed full JID matches only itself; a listed bare JID matches any resource of it. */
export function listed(list: readonly string[], target: JID): boolean {
  if (list.length === 0) return false;
  const full = target.toString();
  const bare = target.bare.toString();
  return list.some((j) => j === full || j === bare);
}

/**
 * The rule for one counterpart: "never" wins over "always" when a JID is on both (the safer
 * reading; the XEP leaves it open); otherwise the default, where "roster" asks whether the
 * contact's bare JID is on the account's roster (only then is `inRoster` called).
 */
export async function allows(p: Prefs, target: JID, inRoster: () => Promise<boolean>): Promise<boolean> {
  if (listed(p.never, target)) return false;
  if (listed(p.always, target)) return true;
  if (p.default === "roster") return inRoster();
  return p.default === "always";
}

/**
 * Preferences are read for every archived message, so they are cached (bounded, for a minute:
 * a change made through another node of a cluster applies within that time; one made here at once).
 */
export class PrefsCache {
  private readonly entries = new Map<string, { prefs: Prefs; at: number }>();
  private readonly size: number;
  private readonly ttlMs: number;

  constructor(size = 10_000, ttlMs = 60_000) {
    this.size = size;
    this.ttlMs = ttlMs;
  }

  get(owner: string, now = Date.now()): Prefs | undefined {
    const e = this.entries.get(owner);
    if (!e) return undefined;
    if (now - e.at > this.ttlMs) {
      this.entries.delete(owner);
      return undefined;
    }
    return e.prefs;
  }

  set(owner: string, prefs: Prefs, now = Date.now()): void {
    this.entries.delete(owner);
    // Oldest first in a Map's order: drop the oldest when full.
    if (this.entries.size >= this.size) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(owner, { prefs, at: now });
  }

  delete(owner: string): void {
    this.entries.delete(owner);
  }
}

/** Every account's preferences: stored, cached, with the server's default for those who set none. */
export class AccountPrefs {
  private readonly store: KeyValueStore<Prefs>;
  private readonly fallback: Prefs;
  private readonly inRoster: (owner: JID, contact: string) => Promise<boolean>;
  private readonly cache = new PrefsCache();

  constructor(store: KeyValueStore<Prefs>, fallback: ArchiveDefault, inRoster: (owner: JID, contact: string) => Promise<boolean>) {
    this.store = store;
    this.fallback = { default: fallback, always: [], never: [] };
    this.inRoster = inRoster;
  }

  async get(owner: string): Promise<Prefs> {
    const cached = this.cache.get(owner);
    if (cached) return cached;
    const p = (await this.store.get(owner)) ?? this.fallback;
    this.cache.set(owner, p);
    return p;
  }

  async set(owner: string, prefs: Prefs): Promise<void> {
    await this.store.set(owner, prefs);
    this.cache.set(owner, prefs);
  }

  forget(owner: string): void {
    this.cache.delete(owner);
  }

  /** Whether messages with `target` go into `owner`'s archive; synchronous when the answer is at hand. */
  wanted(owner: JID, target: JID): boolean | Promise<boolean> {
    const p = this.cache.get(owner.toString());
    if (p && p.default !== "roster" && p.always.length === 0 && p.never.length === 0) return p.default === "always";
    return this.get(owner.toString()).then((prefs) => allows(prefs, target, () => this.inRoster(owner, target.bare.toString())));
  }
}
