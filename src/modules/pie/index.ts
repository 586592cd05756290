// XEP-0227: Portable Import/Export Format for XMPP-IM Servers (version 1.1), the way users move
// between servers: `./run import FILE...` reads the export of Prosody (prosody-migrator to its
// xep0227 store), ejabberd (`ejabberdctl export_piefxis`) or this server, and `./run export FILE`
// writes one. Not a module that the server loads: the command line runs it on the stores the
// modules use.
//   read.ts     the files: size cap, the server's parser and limits, XInclude
//   user.ts     one <user/> into what the stores will hold, checked (account.ts, roster.ts,
//               pep.ts, messages.ts, privacy.ts: one kind of data each, both directions)
//   write.ts    all or nothing into the stores
//   export.ts   the stores into a file
//   report.ts   what the operator is told: errors, unknown elements, notes
//
// An import checks everything before it writes anything: any error, or any data it cannot keep
// (an element the format does not define, a kind of data whose module is not loaded, credentials
// only for a mechanism the server lacks) refuses the whole import, unless the operator asks to
// leave what cannot be kept out (skipUnknown). Accounts that exist already are refused: an import
// adds accounts, it does not merge into them.
import type { Accounts } from "../../core/accounts.ts";
import type { StorageProvider } from "../../storage/types.ts";
import { readExport } from "./read.ts";
import { Findings, PieError } from "./report.ts";
import type { PieLimits, UserPlan } from "./plan.ts";
import { planUser } from "./user.ts";
import { writeUsers } from "./write.ts";

export { PieError } from "./report.ts";
export { exportAccounts, type ExportSummary } from "./export.ts";
export type { PieLimits } from "./plan.ts";

/** Files of an export, together, at most (the whole import is held in memory until it is written). */
export const DEFAULT_MAX_BYTES = 256 << 20;
/** Errors listed at most in a refusal (the rest are counted). */
const MAX_LISTED = 40;

export interface ImportTarget {
  readonly storage: StorageProvider;
  /** The accounts of each hosted domain, by domain: an export's <host/> must be one of them. */
  readonly hosts: ReadonlyMap<string, Accounts>;
  readonly limits: PieLimits;
}

export interface ImportOptions {
  maxBytes?: number;
  /** Import what can be kept, and leave out (and report) unknown elements and unsupported data. */
  skipUnknown?: boolean;
  /** Check and report only. */
  dryRun?: boolean;
  now?: number;
}

export interface ImportSummary {
  accounts: string[];
  counts: Record<"roster items" | "subscription requests" | "vCards" | "private XML elements" | "PEP nodes" | "PEP items" | "offline messages" | "archived messages" | "blocked JIDs", number>;
  /** What was kept in part, or left out by choice. */
  notes: string[];
  /** Unknown and unsupported data left out (with skipUnknown). */
  leftOut: string[];
  written: boolean;
}

/** Imports the files (see the header). Throws PieError, with nothing written, when it refuses. */
export async function importFiles(files: readonly string[], target: ImportTarget, options: ImportOptions = {}): Promise<ImportSummary> {
  const now = options.now ?? Date.now();
  const findings = new Findings();
  const plans: UserPlan[] = [];
  const seen = new Map<string, string>();
  const domains = new Set(target.hosts.keys());
  await readExport(files, {
    maxBytes: options.maxBytes ?? DEFAULT_MAX_BYTES,
    unknown: (name, file) => findings.foundUnknown(name, file),
    user: async (visit) => {
      const plan = await planUser(visit, { domains, limits: target.limits, now }, findings);
      if (!plan) return;
      const before = seen.get(plan.jid);
      if (before) findings.error(visit.file, `${plan.jid} is in the export twice (also in ${before})`);
      seen.set(plan.jid, visit.file);
      plans.push(plan);
    },
  });
  for (const p of plans) {
    const rec = await target.hosts.get(p.domain)!.record(p.local);
    if (rec && !rec.importing) findings.error(p.file, `${p.jid} exists already on this server (an import adds accounts; ./run deluser removes one)`);
  }
  if (findings.errors.length > 0) {
    const errors = [...new Set(findings.errors)]; // a host that does not fit is said once, not once per user
    const listed = errors.slice(0, MAX_LISTED);
    const more = errors.length - listed.length;
    throw new PieError(`the export cannot be imported; nothing was written:\n  ${listed.join("\n  ")}${more > 0 ? `\n  and ${more} more` : ""}`);
  }
  const leftOut = findings.leftOut();
  if (leftOut.length > 0 && !options.skipUnknown) {
    throw new PieError(`the export holds data this server cannot keep; nothing was written:\n  ${leftOut.join("\n  ")}\n` +
      "--skip-unknown imports everything else and leaves these out");
  }
  if (plans.length === 0) throw new PieError("the export holds no users");
  if (!options.dryRun) await writeUsers(plans, target, now);
  return summarize(plans, findings, leftOut, !options.dryRun);
}

function summarize(plans: readonly UserPlan[], findings: Findings, leftOut: string[], written: boolean): ImportSummary {
  const sum = (f: (p: UserPlan) => number) => plans.reduce((n, p) => n + f(p), 0);
  const notes = [...findings.notes];
  if (findings.ignoredNodeFields.size > 0) {
    notes.push(`PEP node settings this server has no equivalent for were left out: ${[...findings.ignoredNodeFields].sort().join(", ")}`);
  }
  if (findings.keysWithout256.size > 0) {
    notes.push(`${findings.keysWithout256.size} accounts came with SCRAM-SHA-1 keys only: they log in with SCRAM-SHA-1 or PLAIN until they set a new password; ` +
      "a client that picks SCRAM-SHA-256 and does not fall back fails meanwhile (auth.mechanisms can leave SCRAM-SHA-256 out for the transition)");
  }
  return {
    accounts: plans.map((p) => p.jid),
    counts: {
      "roster items": sum((p) => p.roster.length),
      "subscription requests": sum((p) => p.pending.size),
      vCards: sum((p) => (p.vcard ? 1 : 0)),
      "private XML elements": sum((p) => p.privateItems.size),
      "PEP nodes": sum((p) => p.pep.size),
      "PEP items": sum((p) => [...p.pep.values()].reduce((n, node) => n + node.items.length, 0)),
      "offline messages": sum((p) => p.offline.length),
      "archived messages": sum((p) => p.archive.length),
      "blocked JIDs": sum((p) => p.blocked.length),
    },
    notes,
    leftOut,
    written,
  };
}
export { pieLimits, type OptionsOf } from "./limits.ts";
