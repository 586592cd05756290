// What an import found, for the operator: the errors that stop it (nothing is written), the
// elements it does not know (which stop it too, unless the operator chose to leave them out), and
// notes on what it kept in part. XEP-0227 §4: an importing server that meets a namespace it does
// not understand "SHOULD ignore the unknown data, SHOULD notify the operator, and MAY offer to
// terminate the process"; this one stops by default, since what it does not know may be data the
// users care about, and the operator decides.

/** The import is refused; nothing has been written. */
export class PieError extends Error {}

export class Findings {
  readonly errors: string[] = [];
  readonly notes: string[] = [];
  /** Elements the importer does not know, by expanded name, with the accounts (or files) they were found in. */
  readonly unknown = new Map<string, Set<string>>();
  /** Data of a kind the server keeps, for a module that is not loaded: by kind, with the accounts. */
  readonly unsupported = new Map<string, Set<string>>();
  /** Accounts whose SCRAM keys were kept without SHA-256 ones (they log in with SCRAM-SHA-1 or PLAIN). */
  readonly keysWithout256 = new Set<string>();
  /** Fields of PEP node configurations that this server has no setting for. */
  readonly ignoredNodeFields = new Set<string>();

  error(where: string, text: string): void {
    this.errors.push(`${where}: ${text}`);
  }

  note(where: string, text: string): void {
    this.notes.push(`${where}: ${text}`);
  }

  foundUnknown(name: string, where: string): void {
    add(this.unknown, name, where);
  }

  foundUnsupported(kind: string, where: string): void {
    add(this.unsupported, kind, where);
  }

  /** What would be left out: unknown elements and kinds no loaded module keeps, one line each. */
  leftOut(): string[] {
    const line = (what: string, at: Set<string>) => `${what} (${[...at].slice(0, 5).join(", ")}${at.size > 5 ? ` and ${at.size - 5} more` : ""})`;
    return [
      ...[...this.unknown].map(([name, at]) => line(`unknown element ${name}`, at)),
      ...[...this.unsupported].map(([kind, at]) => line(kind, at)),
    ];
  }
}

function add(map: Map<string, Set<string>>, key: string, where: string): void {
  let set = map.get(key);
  if (!set) map.set(key, (set = new Set()));
  set.add(where);
}
