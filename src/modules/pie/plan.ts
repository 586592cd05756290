// What an import is to write for one account, read and checked from its <user/> (user.ts), and
// the limits it was checked against.
import type { Credentials } from "../../core/credentials.ts";
import type { LogEntry } from "../../storage/types.ts";
import type { RosterItem } from "../roster/item.ts";
import type { PendingRequest } from "../roster/pending.ts";
import type { PepLimits, PepNode } from "./pep.ts";
import type { RosterLimits } from "./roster.ts";

/** The limits of the modules that keep each kind of data; undefined where the module is not loaded. */
export interface PieLimits {
  /** PBKDF2 iterations for keys made from plain passwords (auth.iterations). */
  iterations: number;
  roster?: RosterLimits;
  vcard?: { maxSize: number };
  private?: { maxItemSize: number; maxItems: number };
  pep?: PepLimits;
  offline?: { quota: number; expireDays: number };
  archive?: { retention: number };
  blocking?: { maxItems: number };
  /** The bookmarks module is loaded (it keeps XEP-0402 and XEP-0048 bookmarks in step). */
  bookmarks?: boolean;
}

export interface UserPlan {
  readonly local: string;
  /** The hosted domain the account is of (its export's <host/>). */
  readonly domain: string;
  /** The account's bare JID: the owner of everything below. */
  readonly jid: string;
  readonly file: string;
  credentials: Credentials;
  roster: RosterItem[];
  pending: Map<string, PendingRequest>;
  vcard: string | undefined;
  /** Private XML by key ({namespace}name), serialised. */
  privateItems: Map<string, string>;
  pep: Map<string, PepNode>;
  offline: LogEntry[];
  archive: LogEntry[];
  blocked: string[];
}
