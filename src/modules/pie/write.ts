// Writing an import, all or nothing, through the storage shapes every backend has (no backend
// transaction is needed, so it holds on Cassandra as on the embedded store):
//   1. every account's name is reserved (insert-if-absent, as registration does): from then on no
//      registration or other import can take it, and none can log in, since it has no credentials;
//   2. the data is written into the stores the modules read;
//   3. each account gets its credentials, which is when it can be logged in to.
// Any failure in between removes everything under the reserved accounts (the account deletion's
// purge) and the import ends with nothing kept. A process killed in between leaves reserved
// accounts without credentials: a later import of the same accounts purges those first, and
// `./run deluser` removes them.
import type { Accounts } from "../../core/accounts.ts";
import type { StorageProvider } from "../../storage/types.ts";
import { BLOCKLIST_STORE } from "../blocking/lists.ts";
import { ARCHIVE_STORE } from "../mam/archive.ts";
import { OFFLINE_STORE } from "../offline/queue.ts";
import { pepNodes } from "../pep/index.ts";
import { PRIVATE_STORES } from "../private.ts";
import { nextVersion, rosterStores } from "../roster/service.ts";
import { VCARD_STORE } from "../vcard/index.ts";
import { PieError } from "./report.ts";
import type { UserPlan } from "./plan.ts";

/** Log entries per append. */
const BATCH = 500;

export interface PieTarget {
  readonly storage: StorageProvider;
  /** The accounts of each hosted domain (each plan's is among them). */
  readonly hosts: ReadonlyMap<string, Accounts>;
}

/** Writes the users' data (see the file's header); throws PieError, having removed what it wrote. */
export async function writeUsers(plans: readonly UserPlan[], target: PieTarget, now = Date.now()): Promise<void> {
  const { storage } = target;
  const accountsOf = (p: UserPlan) => target.hosts.get(p.domain)!;
  const reserved: UserPlan[] = [];
  try {
    for (const p of plans) {
      const accounts = accountsOf(p);
      let r = await accounts.reserveForImport(p.local, now);
      if (r === "leftover") {
        await storage.purgeOwner(p.jid);
        r = await accounts.reserveForImport(p.local, now);
      }
      if (r !== "reserved") throw new PieError(`${p.jid} was created while the import ran (by registration, or another import)`);
      reserved.push(p);
    }
    for (const p of plans) await writeData(p, storage, now);
    for (const p of plans) await accountsOf(p).completeImport(p.local, p.credentials, now);
  } catch (e) {
    const left: string[] = [];
    for (const p of reserved) await storage.purgeOwner(p.jid).catch(() => left.push(p.jid));
    const why = e instanceof PieError ? e.message : `a write failed: ${(e as Error).message}`;
    throw new PieError(left.length === 0
      ? `${why}; nothing was kept`
      : `${why}; could not remove what was written for ${left.join(", ")} (./run deluser removes it)`);
  }
}

async function writeData(p: UserPlan, storage: StorageProvider, now: number): Promise<void> {
  const owner = p.jid;
  if (p.roster.length > 0 || p.pending.size > 0) {
    const roster = rosterStores(storage);
    for (const item of p.roster) await roster.items.set(owner, item.jid, item);
    for (const [from, request] of p.pending) await roster.pending.set(owner, from, request);
    // A first version from the clock: a client's version from the old server is no version here.
    await roster.versions.set(owner, nextVersion(undefined, now));
  }
  if (p.vcard !== undefined) await storage.keyval<string>(VCARD_STORE).set(owner, p.vcard);
  if (p.privateItems.size > 0) {
    const items = storage.map<string>(PRIVATE_STORES.items);
    for (const [key, text] of p.privateItems) await items.set(owner, key, text);
    await storage.keyval<string[]>(PRIVATE_STORES.keys).set(owner, [...p.privateItems.keys()]);
  }
  if (p.pep.size > 0) {
    const nodes = pepNodes(storage);
    for (const [node, { config, items }] of p.pep) {
      await nodes.setConfig(owner, node, config);
      for (const item of items) await nodes.put(owner, item, Number.MAX_SAFE_INTEGER);
    }
  }
  for (const [store, entries] of [[OFFLINE_STORE, p.offline], [ARCHIVE_STORE, p.archive]] as const) {
    const log = storage.log(store);
    for (let i = 0; i < entries.length; i += BATCH) await log.append(entries.slice(i, i + BATCH).map((e) => ({ ...e, owner })));
  }
  if (p.blocked.length > 0) {
    const blocklist = storage.map<number>(BLOCKLIST_STORE);
    // The value is when the JID was blocked; the list keeps the file's order.
    for (const [i, jid] of p.blocked.entries()) await blocklist.set(owner, jid, now + i);
  }
}
