// XEP-0227 written from the stores: one file, <server-data xmlns='urn:xmpp:pie:0'> with a <host/>
// per domain the server serves (virtual hosts) and a <user/> per account of it: its SCRAM keys (§4.3: the password is not known, and
// not wanted), roster and subscription requests, vCard, private XML, PEP nodes with their items,
// offline messages, archive, and blocked JIDs as a privacy list. §6: "An exporting server SHOULD
// make sure that the generated file is not accessible to unauthorized persons": it is made 0600,
// under another name first and renamed when complete, and an existing file is never replaced.
// Accounts are written one at a time and archives page by page, so memory does not grow with them.
import { createWriteStream, existsSync, renameSync, rmSync, type WriteStream } from "node:fs";
import { once } from "node:events";
import { escapeXML, xml, type Element } from "../../xml/element.ts";
import { NS } from "../../xml/ns.ts";
import { parseStored } from "../../xml/stored.ts";
import type { Accounts } from "../../core/accounts.ts";
import type { Credentials } from "../../core/credentials.ts";
import { PRIVATE_FILE } from "../../storage/data-dir.ts";
import type { LogEntry, LogStore, StorageProvider } from "../../storage/types.ts";
import { BLOCKLIST_STORE } from "../blocking/lists.ts";
import { ARCHIVE_STORE } from "../mam/archive.ts";
import { OFFLINE_STORE } from "../offline/queue.ts";
import { pepNodes } from "../pep/index.ts";
import { PRIVATE_STORES } from "../private.ts";
import { rosterStores } from "../roster/service.ts";
import { VCARD_STORE } from "../vcard/index.ts";
import { PIE_SCRAM, scramElements } from "./account.ts";
import { archiveResult, offlineElement, PIE_MAM } from "./messages.ts";
import { pepElements, type PepNode } from "./pep.ts";
import { privacyElement } from "./privacy.ts";
import { PIE } from "./read.ts";
import { PieError } from "./report.ts";
import { rosterElement } from "./roster.ts";

const PAGE = 500;

export interface ExportSource {
  readonly storage: StorageProvider;
  /** The accounts of each hosted domain, by domain. */
  readonly hosts: ReadonlyMap<string, Accounts>;
}

export interface ExportSummary {
  accounts: number;
  archived: number;
  offline: number;
  /** Accounts left out: an import had not finished writing them. */
  skipped: string[];
}

/** Writes every account of every hosted domain to `path`, which must not exist. */
export async function exportAccounts(path: string, source: ExportSource): Promise<ExportSummary> {
  if (existsSync(path)) throw new PieError(`${path} exists; the export does not replace a file`);
  const part = `${path}.part-${process.pid}`;
  const out = createWriteStream(part, { flags: "wx", mode: PRIVATE_FILE });
  await once(out, "open").catch((e: NodeJS.ErrnoException) => {
    throw new PieError(`cannot write ${part} (${e.code ?? e.message})`);
  });
  const summary: ExportSummary = { accounts: 0, archived: 0, offline: 0, skipped: [] };
  try {
    const w = writer(out);
    await w(`<?xml version='1.0' encoding='UTF-8'?>\n<server-data xmlns='${PIE}'>\n`);
    for (const [domain, accounts] of source.hosts) {
      await w(`<host jid='${escapeXML(domain)}'>\n`);
      const suffix = `@${domain}`;
      for (const jid of await accounts.list()) {
        if (!jid.endsWith(suffix)) continue;
        const local = jid.slice(0, -suffix.length);
        const record = await accounts.record(local);
        if (record?.importing) summary.skipped.push(jid);
        else if (record) await writeUser(w, local, domain, record.credentials, source.storage, summary);
      }
      await w("</host>\n");
    }
    await w("</server-data>\n");
    out.end();
    await once(out, "finish");
    if (existsSync(path)) throw new PieError(`${path} appeared while the export ran; the export is left in ${part}`);
    renameSync(part, path);
    return summary;
  } catch (e) {
    out.destroy();
    if (!(e instanceof PieError && e.message.includes(part))) rmSync(part, { force: true });
    throw e instanceof PieError ? e : new PieError(`the export failed: ${(e as Error).message}`);
  }
}

/** One <user/>: its SCRAM keys, what the stores hold for it, its offline queue and its archive. */
async function writeUser(w: Write, local: string, domain: string, credentials: Credentials, storage: StorageProvider, summary: ExportSummary): Promise<void> {
  const jid = `${local}@${domain}`;
  await w(`<user name='${escapeXML(local)}'>`);
  for (const { mechanism, credential } of scramElements(credentials)) {
    await w(xml("scram-credentials", { xmlns: PIE_SCRAM, mechanism },
      xml("iter-count", null, String(credential.iterations)), xml("salt", null, credential.salt),
      xml("server-key", null, credential.serverKey), xml("stored-key", null, credential.storedKey)).toString());
  }
  for (const el of await userData(jid, storage)) await w(el.toString());
  const offline = await readAll(storage.log(OFFLINE_STORE), jid);
  const queued = offlineElement(offline, domain);
  if (queued) await w(queued.toString());
  summary.offline += offline.length;
  summary.archived += await writeArchive(w, storage.log(ARCHIVE_STORE), jid);
  await w("</user>\n");
  summary.accounts++;
}

/** What the key-value and map stores hold for an account, as XEP-0227 elements. */
async function userData(jid: string, storage: StorageProvider): Promise<Element[]> {
  const out: Element[] = [];
  const roster = rosterStores(storage);
  const items = [...(await roster.items.getAll(jid)).values()];
  if (items.length > 0) out.push(rosterElement(items));
  for (const request of (await roster.pending.getAll(jid)).values()) {
    const presence = parseStored(request.xml);
    if (!presence) continue;
    presence.attrs.xmlns = NS.client;
    out.push(presence);
  }
  const vcard = await storage.keyval<string>(VCARD_STORE).get(jid);
  const card = vcard === undefined ? undefined : parseStored(vcard);
  if (card) out.push(card);
  const priv = [...(await storage.map<string>(PRIVATE_STORES.items).getAll(jid)).values()].map(parseStored).filter((e) => e !== undefined);
  if (priv.length > 0) out.push(xml("query", { xmlns: NS.private }, priv));
  const store = pepNodes(storage);
  const nodes = new Map<string, PepNode>();
  for (const [node, config] of await store.all(jid)) nodes.set(node, { config, items: await store.list(jid, node) });
  out.push(...pepElements(nodes));
  const blocked = [...(await storage.map<number>(BLOCKLIST_STORE).getAll(jid)).entries()].sort((a, b) => a[1] - b[1]).map(([b]) => b);
  const privacy = privacyElement(blocked);
  if (privacy) out.push(privacy);
  return out;
}

async function readAll(log: LogStore, owner: string): Promise<LogEntry[]> {
  const out: LogEntry[] = [];
  let after: string | undefined;
  for (;;) {
    const page = await log.query(owner, { limit: PAGE, after });
    out.push(...page.entries);
    if (page.complete || page.entries.length === 0) return out;
    after = page.entries[page.entries.length - 1]!.id;
  }
}

/** §4.11, page by page; returns how many entries. */
async function writeArchive(w: Write, log: LogStore, owner: string): Promise<number> {
  let after: string | undefined;
  let n = 0;
  for (;;) {
    const page = await log.query(owner, { limit: PAGE, after });
    if (page.entries.length > 0) {
      if (n === 0) await w(`<archive xmlns='${PIE_MAM}'>`);
      for (const e of page.entries) {
        const result = archiveResult(e);
        if (result) await w(result.toString());
      }
      n += page.entries.length;
      after = page.entries[page.entries.length - 1]!.id;
    }
    if (page.complete || page.entries.length === 0) break;
  }
  if (n > 0) await w("</archive>");
  return n;
}

type Write = (s: string) => Promise<void>;

/** Writes to the stream, waiting when its buffer is full. */
function writer(out: WriteStream): Write {
  return async (s) => {
    if (!out.write(s)) await once(out, "drain");
  };
}
