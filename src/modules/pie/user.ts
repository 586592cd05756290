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
  domain: string;
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
  const where = visit.file;
  const name = visit.user.attrs.name;
  const host = tryParseJid(visit.host);
  if (!host || host.local || host.resource) {
    findings.error(where, `host '${visit.host}' is not a domain`);
    return undefined;
  }
  if (host.domain !== ctx.domain) {
    findings.error(where, `host ${host.domain} is not this server's domain (${ctx.domain}); addresses are kept as they are, so import it into a server for ${host.domain}`);
    return undefined;
  }
  let local: string;
  try {
    local = normalizeLocal(name ?? "");
    if (local === "") throw new Error("empty");
  } catch {
    findings.error(where, `a user whose name '${name ?? ""}' is not a valid local part of a JID`);
    return undefined;
  }
  const jid = `${local}@${ctx.domain}`;
  const at = `${jid} (${where})`;
  const byKind = new Map<Kind, Element[]>();
  for (const c of elementChildren(visit.user)) {
    const kind = kindOf(c);
    if (!kind) {
      findings.foundUnknown(qname(c), jid);
      continue;
    }
    const module = KEPT_BY[kind];
    if (module && !loaded(ctx.limits, module)) {
      findings.foundUnsupported(`${kind === "pep-config" || kind === "pep-items" ? "PEP nodes" : kind} (module ${module} is not loaded)`, jid);
      continue;
    }
    const list = byKind.get(kind) ?? [];
    list.push(c);
    byKind.set(kind, list);
  }
  for (const [kind, els] of byKind) {
    if (els.length > 1 && kind !== "credentials" && kind !== "pending") findings.error(at, `its ${kind} is given ${els.length} times`);
  }
  const one = (k: Kind) => byKind.get(k)?.[0];
  const plan: UserPlan = {
    local, jid, file: where, credentials: {}, roster: [], pending: new Map(), vcard: undefined,
    privateItems: new Map(), pep: new Map(), offline: [], archive: [], blocked: [],
  };
  const errors = (list: string[]) => list.forEach((e) => findings.error(at, e));
  const notes = (list: string[]) => list.forEach((n) => findings.note(jid, n));

  const creds = await readCredentials(visit.user, byKind.get("credentials") ?? [], ctx.limits.iterations);
  if (creds.kind === "error") findings.error(at, creds.text);
  else if (creds.kind === "unsupported") findings.foundUnsupported(`credentials for ${creds.mechanisms.join(", ")} only (this server has SCRAM-SHA-1 and SCRAM-SHA-256: the account could not log in)`, jid);
  else if (creds.kind === "none") findings.note(jid, "no password or SCRAM credentials: the account cannot log in until one is set (./run passwd)");
  else {
    plan.credentials = creds.credentials;
    if (creds.kind === "keys" && !creds.hashes.includes("SHA-256")) findings.keysWithout256.add(jid);
  }

  const roster = one("roster");
  if (roster) {
    const r = readRoster(roster, jid, ctx.limits.roster!);
    plan.roster = r.items;
    errors(r.errors);
    notes(r.notes);
  }
  for (const p of byKind.get("pending") ?? []) {
    if (p.attrs.type !== "subscribe") {
      findings.foundUnknown(`{${NS.client}}presence of type '${p.attrs.type ?? "available"}'`, jid);
      continue;
    }
    const r = readPending(p, jid, ctx.now);
    if (typeof r === "string") findings.error(at, r);
    else plan.pending.set(r.from, r.request);
  }

  const vcard = one("vcard");
  if (vcard && elementChildren(vcard).length > 0) {
    const text = detachedText(withNamespace(vcard));
    if (Buffer.byteLength(text, "utf8") > ctx.limits.vcard!.maxSize) findings.error(at, `its vCard is larger than ${ctx.limits.vcard!.maxSize} bytes (modules.vcard.maxSize)`);
    plan.vcard = text;
  }

  const priv = one("private");
  if (priv) readPrivate(priv, plan, ctx.limits.private!, (e) => findings.error(at, e));

  const owner = one("pep-config");
  const items = one("pep-items");
  if (owner || items) {
    const r = readPep(owner, items, jid, new IdGenerator(IMPORT_NODE_TAG), ctx.limits.pep!);
    plan.pep = r.nodes;
    errors(r.errors);
    notes(r.notes);
    for (const f of r.ignoredFields) findings.ignoredNodeFields.add(f);
  }

  if (ctx.limits.bookmarks && ctx.limits.pep && ctx.limits.private) {
    const copied = alignBookmarks(plan, new IdGenerator(IMPORT_NODE_TAG), ctx.limits.pep);
    if (copied) findings.note(jid, copied);
  }

  const offline = one("offline");
  if (offline) {
    const r = readOffline(offline, jid, { domain: ctx.domain, now: ctx.now, ...ctx.limits.offline! });
    plan.offline = r.entries;
    errors(r.errors);
  }
  const archive = one("archive");
  if (archive) {
    const r = readArchive(archive, jid, { domain: ctx.domain, now: ctx.now, retention: ctx.limits.archive!.retention });
    plan.archive = r.entries;
    errors(r.errors);
    notes(r.notes);
  }

  const privacy = one("privacy");
  if (privacy) {
    const r = readPrivacy(privacy);
    plan.blocked = r.blocked;
    if (r.leftOut > 0) findings.note(jid, `privacy lists: ${r.leftOut} rules other than blocked JIDs were left out (this server has XEP-0191 blocking, not XEP-0016 privacy lists)`);
    if (r.blocked.length > ctx.limits.blocking!.maxItems) findings.error(at, `${r.blocked.length} blocked JIDs, more than ${ctx.limits.blocking!.maxItems} (modules.blocking.maxItems)`);
  }
  return plan;
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
