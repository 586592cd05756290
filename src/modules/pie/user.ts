// One <user/> of an export read into what the stores will hold (XEP-0227 §4.2-4.11), checked in full
// before anything is written: its name, credentials, roster and subscription requests, vCard,
// private XML, PEP nodes, offline messages, archive and blocked JIDs. Each kind of data is kept
// by a module; a kind whose module is not loaded is reported, as is an element the format does
// not define.
import { elementChildren, type Element } from "../../xml/element.ts";
import { NS } from "../../xml/ns.ts";
import { normalizeLocal, tryParseJid } from "../../xml/jid.ts";
import { IdGenerator } from "../../storage/ids.ts";
import { parsePrivateQuery } from "../private.ts";
import { PUBSUB } from "../pubsub/ns.ts";
import { PIE_SCRAM, readCredentials } from "./account.ts";
import { alignBookmarks } from "./bookmarks.ts";
import type { PieLimits, UserPlan } from "./plan.ts";
import { IMPORT_NODE_TAG, PIE_MAM, readArchive, readOffline } from "./messages.ts";
import { readPep } from "./pep.ts";
import { PRIVACY, readPrivacy } from "./privacy.ts";
import { isPie, qname, type UserVisit } from "./read.ts";
import type { Findings } from "./report.ts";
import { readPending, readRoster } from "./roster.ts";
import { detachedText, isClientStanza, withNamespace } from "./xml.ts";

export interface PlanContext {
  /** The domains the server serves: a <host/> must be one of them, its users become its accounts. */
  domains: ReadonlySet<string>;
  limits: PieLimits;
  now: number;
}

type Kind = "credentials" | "roster" | "pending" | "vcard" | "private" | "offline" | "pep-config" | "pep-items" | "archive" | "privacy";

/** The user's children by kind; an element of no kind is reported as unknown. */
function kindOf(el: Element): Kind | undefined {
  if (isPie(el, "offline-messages")) return "offline";
  if (isClientStanza(el, "presence")) return "pending";
  // Prosody 0.12's xep0227 driver writes the requests without a namespace of their own, so in the
  // user's (urn:xmpp:pie:0); read as jabber:client until Prosody writes them there (§4.9).
  if (isPie(el, "presence")) return "pending";
  switch (qname(el)) {
    case `{${PIE_SCRAM}}scram-credentials`: return "credentials";
    case `{${NS.roster}}query`: return "roster";
    case `{${NS.vcard}}vCard`: return "vcard";
    case `{${NS.private}}query`: return "private";
    case `{${PUBSUB.owner}}pubsub`: return "pep-config";
    case `{${PUBSUB.main}}pubsub`: return "pep-items";
    case `{${PIE_MAM}}archive`: return "archive";
    case `{${PRIVACY}}query`: return "privacy";
    default: return undefined;
  }
}

/** The module that keeps each kind (for "not loaded" reports). */
const KEPT_BY: Partial<Record<Kind, string>> = {
  roster: "roster", pending: "roster", vcard: "vcard", private: "private", offline: "offline",
  "pep-config": "pep", "pep-items": "pep", archive: "mam", privacy: "blocking",
};

/** Reads a user; undefined (with errors in `findings`) when it cannot be imported. */
export async function planUser(visit: UserVisit, ctx: PlanContext, findings: Findings): Promise<UserPlan | undefined> {
  const named = accountName(visit, ctx.domains, findings);
  if (named === undefined) return undefined;
  const [local, domain] = named;
  const jid = `${local}@${domain}`;
  const r: UserReading = {
    plan: {
      local, domain, jid, file: visit.file, credentials: {}, roster: [], pending: new Map(), vcard: undefined,
      privateItems: new Map(), pep: new Map(), offline: [], archive: [], blocked: [],
    },
    ctx, findings,
    error: (text) => findings.error(`${jid} (${visit.file})`, text),
    note: (text) => findings.note(jid, text),
  };
  const byKind = sortChildren(visit.user, r);
  await readAccount(visit.user, byKind.get("credentials") ?? [], r);
  for (const [kind, read] of READERS) {
    const els = byKind.get(kind);
    if (els) read(els, r);
  }
  readPepAndBookmarks(byKind.get("pep-config")?.[0], byKind.get("pep-items")?.[0], r);
  return r.plan;
}

/** What the readers of one user share: the plan they fill, and where errors and notes go. */
interface UserReading {
  readonly plan: UserPlan;
  readonly ctx: PlanContext;
  readonly findings: Findings;
  error(text: string): void;
  note(text: string): void;
}

/** The user's normalised local part and its host, checked; undefined (an error reported) when either does not fit. */
function accountName(visit: UserVisit, domains: ReadonlySet<string>, findings: Findings): [local: string, domain: string] | undefined {
  const host = tryParseJid(visit.host);
  if (!host || host.local || host.resource) {
    findings.error(visit.file, `host '${visit.host}' is not a domain`);
    return undefined;
  }
  if (!domains.has(host.domain)) {
    findings.error(visit.file, `host ${host.domain} is not a domain of this server (${[...domains].join(", ")}); addresses are kept as they are, so import it into a server for ${host.domain} (or add it to hosts)`);
    return undefined;
  }
  const name = visit.user.attrs.name ?? "";
  try {
    const local = normalizeLocal(name);
    if (local !== "") return [local, host.domain];
  } catch { /* reported below */ }
  findings.error(visit.file, `a user whose name '${name}' is not a valid local part of a JID`);
  return undefined;
}

/** The user's children by kind; unknown ones and those of modules not loaded are reported, not kept. */
function sortChildren(user: Element, r: UserReading): Map<Kind, Element[]> {
  const byKind = new Map<Kind, Element[]>();
  for (const c of elementChildren(user)) {
    const kind = kindOf(c);
    const module = kind && KEPT_BY[kind];
    if (!kind) r.findings.foundUnknown(qname(c), r.plan.jid);
    else if (module && !loaded(r.ctx.limits, module)) {
      const why = module === "mam" && r.ctx.limits.archive ? "modules.mam.retention is 0: nothing is archived" : `module ${module} is not loaded`;
      r.findings.foundUnsupported(`${kind.startsWith("pep") ? "PEP nodes" : kind} (${why})`, r.plan.jid);
    } else byKind.set(kind, [...(byKind.get(kind) ?? []), c]);
  }
  for (const [kind, els] of byKind) {
    if (els.length > 1 && kind !== "credentials" && kind !== "pending") r.error(`its ${kind} is given ${els.length} times`);
  }
  return byKind;
}

async function readAccount(user: Element, scram: Element[], r: UserReading): Promise<void> {
  const creds = await readCredentials(user, scram, r.ctx.limits.iterations);
  if (creds.kind === "error") r.error(creds.text);
  else if (creds.kind === "unsupported") {
    r.findings.foundUnsupported(`credentials for ${creds.mechanisms.join(", ")} only (this server has SCRAM-SHA-1 and SCRAM-SHA-256: the account could not log in)`, r.plan.jid);
  } else if (creds.kind === "none") r.note("no password or SCRAM credentials: the account cannot log in until one is set (./run passwd)");
  else {
    r.plan.credentials = creds.credentials;
    if (creds.kind === "keys" && !creds.hashes.includes("SHA-256")) r.findings.keysWithout256.add(r.plan.jid);
  }
}

/** The readers of the kinds that come one element each (pending: one per request), in the order they run. */
const READERS: [Kind, (els: Element[], r: UserReading) => void][] = [
  ["roster", ([query], r) => {
    const read = readRoster(query!, r.plan.jid, r.ctx.limits.roster!);
    r.plan.roster = read.items;
    read.errors.forEach(r.error);
    read.notes.forEach(r.note);
  }],
  ["pending", (presences, r) => {
    for (const p of presences) {
      if (p.attrs.type !== "subscribe") {
        r.findings.foundUnknown(`{${NS.client}}presence of type '${p.attrs.type ?? "available"}'`, r.plan.jid);
        continue;
      }
      const read = readPending(p, r.plan.jid, r.ctx.now);
      if (typeof read === "string") r.error(read);
      else r.plan.pending.set(read.from, read.request);
    }
  }],
  ["vcard", ([vcard], r) => {
    if (elementChildren(vcard!).length === 0) return;
    r.plan.vcard = detachedText(withNamespace(vcard!));
    const max = r.ctx.limits.vcard!.maxSize;
    if (Buffer.byteLength(r.plan.vcard, "utf8") > max) r.error(`its vCard is larger than ${max} bytes (modules.vcard.maxSize)`);
  }],
  ["private", ([query], r) => readPrivate(query!, r.plan, r.ctx.limits.private!, r.error)],
  ["offline", ([list], r) => {
    const read = readOffline(list!, r.plan.jid, { domain: r.plan.domain, now: r.ctx.now, ...r.ctx.limits.offline! });
    r.plan.offline = read.entries;
    read.errors.forEach(r.error);
  }],
  ["archive", ([archive], r) => {
    const read = readArchive(archive!, r.plan.jid, { domain: r.plan.domain, now: r.ctx.now, retention: r.ctx.limits.archive!.retention });
    r.plan.archive = read.entries;
    read.errors.forEach(r.error);
    read.notes.forEach(r.note);
  }],
  ["privacy", ([query], r) => {
    const read = readPrivacy(query!);
    r.plan.blocked = read.blocked;
    if (read.leftOut > 0) r.note(`privacy lists: ${read.leftOut} rules other than blocked JIDs were left out (this server has XEP-0191 blocking, not XEP-0016 privacy lists)`);
    const max = r.ctx.limits.blocking!.maxItems;
    if (read.blocked.length > max) r.error(`${read.blocked.length} blocked JIDs, more than ${max} (modules.blocking.maxItems)`);
  }],
];

/** PEP (both halves together), then the bookmarks in step across their three places. */
function readPepAndBookmarks(owner: Element | undefined, items: Element | undefined, r: UserReading): void {
  const limits = r.ctx.limits.pep;
  if (!limits) return;
  const ids = new IdGenerator(IMPORT_NODE_TAG);
  if (owner || items) {
    const read = readPep(owner, items, r.plan.jid, ids, limits);
    r.plan.pep = read.nodes;
    read.errors.forEach(r.error);
    read.notes.forEach(r.note);
    for (const f of read.ignoredFields) r.findings.ignoredNodeFields.add(f);
  }
  if (r.ctx.limits.bookmarks && r.ctx.limits.private) {
    const copied = alignBookmarks(r.plan, ids, limits);
    if (copied) r.note(copied);
  }
}

function loaded(limits: PieLimits, module: string): boolean {
  switch (module) {
    case "roster": return limits.roster !== undefined;
    case "vcard": return limits.vcard !== undefined;
    case "private": return limits.private !== undefined;
    case "pep": return limits.pep !== undefined;
    case "offline": return limits.offline !== undefined;
    case "mam": return limits.archive !== undefined && limits.archive.retention > 0;
    case "blocking": return limits.blocking !== undefined;
    default: return true;
  }
}

/** XEP-0049 as the private module takes a client's query: each child under its key, within its limits. */
function readPrivate(query: Element, plan: UserPlan, limits: { maxItemSize: number; maxItems: number }, error: (e: string) => void): void {
  const items = parsePrivateQuery(query, Number.MAX_SAFE_INTEGER);
  if (!Array.isArray(items)) {
    error(`private XML: ${items.text ?? items.condition}`);
    return;
  }
  for (const { key, el } of items) {
    if (elementChildren(el).length === 0 && el.getText().trim() === "") continue;
    const text = detachedText(el);
    if (Buffer.byteLength(text, "utf8") > limits.maxItemSize) error(`private XML: ${key} is larger than ${limits.maxItemSize} bytes (modules.private.maxItemSize)`);
    plan.privateItems.set(key, text);
  }
  if (plan.privateItems.size > limits.maxItems) error(`private XML: ${plan.privateItems.size} elements, more than ${limits.maxItems} (modules.private.maxItems)`);
}
