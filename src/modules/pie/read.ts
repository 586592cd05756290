// XEP-0227 §4 and §5: reading the files of an export. The root is <server-data/> (or, in a file
// that an XInclude pulls in, the <host/> or <user/> that stands in for the include), in
// urn:xmpp:pie:0 or the namespace of the XEP's drafts that older exporters still write. Files go
// through the server's own parser (src/xml/: restricted XML, so no DTD, entity declaration,
// comment or processing instruction) with limits, and in total they may not exceed a size cap.
//
// §5: "An importing server MUST support <include/> elements having an 'href' attribute containing
// a relative URI, having no 'parse' attribute, and having no 'xpointer' attribute"; those are
// followed where they stand for hosts, users, or a child of a user (ejabberd writes a main file
// that includes one file per host). An include deeper in a user's data is user data, not followed
// ("SHOULD NOT process"). A reference must stay inside the folder of the file named on the command
// line, and a file that includes itself is refused.
import { createReadStream, realpathSync, statSync } from "node:fs";
import { dirname, isAbsolute, relative, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { xml, elementChildren, type Element } from "../../xml/element.ts";
import { StreamParser } from "../../xml/parser.ts";
import { PieError } from "./report.ts";

export const PIE = "urn:xmpp:pie:0";
/** The namespace of XEP-0227 before it was issued urn:xmpp:pie:0 (version 0.2, 2007; ejabberd 2.x wrote it). */
export const PIE_DRAFT = "http://www.xmpp.org/extensions/xep-0227.html#ns";
export const XINCLUDE = "http://www.w3.org/2001/XInclude";

/** Nesting allowed below a file's root: a stored message with its payload, inside result, forwarded, archive, user and host. */
const MAX_DEPTH = 64;

/** Clark notation of an element's expanded name: "{namespace}local". */
export function qname(el: Element): string {
  return `{${el.getNS() ?? ""}}${el.getName()}`;
}

export function isPie(el: Element, local: string): boolean {
  const ns = el.getNS();
  return el.getName() === local && (ns === PIE || ns === PIE_DRAFT);
}

/** A user of the export: its element (attached to its host's, so namespaces resolve) and where it was read. */
export interface UserVisit {
  readonly host: string;
  readonly user: Element;
  readonly file: string;
}

export interface ReadOptions {
  /** Bytes all files together may have. */
  maxBytes: number;
  /** A user, in the order of the files. */
  user(visit: UserVisit): Promise<void>;
  /** An element outside any user that the format does not define, by its expanded name. */
  unknown(name: string, file: string): void;
}

type Position = "server-data" | "host" | "user";

/** Reads the files as one export: every user goes to options.user, in order. Throws PieError. */
export async function readExport(files: readonly string[], options: ReadOptions): Promise<void> {
  const reader = new Reader(options);
  for (const f of files) await reader.top(f);
}

class Reader {
  private bytes = 0;
  private readonly options: ReadOptions;

  constructor(options: ReadOptions) {
    this.options = options;
  }

  /** A file named on the command line: a whole <server-data/>, or one host's or one user's part of it. */
  async top(file: string): Promise<void> {
    const path = resolve(file);
    await this.file(path, { folder: realFolder(path), chain: [], within: "server-data" });
  }

  /** Reads one file; `within`: where its root stands. A user-data file's root is returned, to stand for its include. */
  private async file(path: string, at: { folder: string; chain: string[]; within: Position | "user-data"; host?: string }): Promise<Element | undefined> {
    const size = this.account(path);
    const here = { ...at, chain: [...at.chain, path] };
    let kind = "user-data" as Position | "user-data"; // set when the root is read
    let host = at.host;
    const root = await parseFile(path, size, {
      root: (el) => {
        kind = this.rootKind(el, at.within, path);
        if (kind === "host") host = hostOf(el, path);
        return kind === "server-data" || kind === "host";
      },
      child: (el) => (kind === "server-data" ? this.inServerData(el, path, here) : this.inHost(el, host!, path, here)),
    });
    if (kind === "user") {
      if (!host) throw new PieError(`${path}: a <user/> file is read only where a <host/> includes it`);
      await this.visitUser(root, host, path, here);
    }
    return kind === "user-data" ? root : undefined;
  }

  /** Counts the file against the size cap before any of it is read. */
  private account(path: string): number {
    let size: number;
    try {
      const st = statSync(path);
      if (!st.isFile()) throw new PieError(`${path}: not a file`);
      size = st.size;
    } catch (e) {
      if (e instanceof PieError) throw e;
      throw new PieError(`${path}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
    this.bytes += size;
    if (this.bytes > this.options.maxBytes) {
      throw new PieError(`${path}: the export is larger than ${mib(this.options.maxBytes)} (--max-size raises the limit; the whole export is held in memory until it is written)`);
    }
    return size;
  }

  private rootKind(root: Element, within: Position | "user-data", path: string): Position | "user-data" {
    if (within === "user-data") return "user-data";
    const ns = root.getNS();
    if (ns !== PIE && ns !== PIE_DRAFT) {
      throw new PieError(`${path}: not a XEP-0227 export (its root is {${ns ?? ""}}${root.getName()}, not <server-data xmlns='${PIE}'/>)`);
    }
    const name = root.getName();
    const allowed: Position[] = within === "server-data" ? ["server-data", "host", "user"] : within === "host" ? ["user"] : [];
    if (!allowed.includes(name as Position)) throw new PieError(`${path}: a <${name}/> cannot stand where it is included (in a <${within}/>)`);
    return name as Position;
  }

  private async inServerData(el: Element, path: string, at: { folder: string; chain: string[] }): Promise<void> {
    if (isPie(el, "host")) {
      const host = hostOf(el, path);
      for (const c of elementChildren(el)) await this.inHost(c, host, path, at);
    } else if (isInclude(el)) {
      await this.file(this.included(el, path, at), { ...at, within: "server-data" });
    } else {
      this.options.unknown(qname(el), path);
    }
  }

  private async inHost(el: Element, host: string, path: string, at: { folder: string; chain: string[] }): Promise<void> {
    if (isPie(el, "user")) await this.visitUser(el, host, path, at);
    else if (isInclude(el)) await this.file(this.included(el, path, at), { ...at, within: "host", host });
    else this.options.unknown(qname(el), path);
  }

  /** A user, with the includes among its children replaced by the elements they stand for. */
  private async visitUser(user: Element, host: string, path: string, at: { folder: string; chain: string[] }): Promise<void> {
    for (const c of elementChildren(user)) {
      if (!isInclude(c)) continue;
      const data = await this.file(this.included(c, path, at), { ...at, within: "user-data" });
      const i = user.children.indexOf(c);
      user.children.splice(i, 1, data!);
      data!.parent = user;
    }
    await this.options.user({ host, user, file: path });
  }

  /** The file an include names, checked: relative, inside the export's folder, not already being read. */
  private included(inc: Element, path: string, at: { folder: string; chain: string[] }): string {
    const href = inc.attrs.href;
    if (!href) throw new PieError(`${path}: an <include/> without href`);
    if (inc.attrs.parse !== undefined && inc.attrs.parse !== "xml") throw new PieError(`${path}: <include href='${href}'/> with parse='${inc.attrs.parse}' is not supported (only XML)`);
    if (inc.attrs.xpointer !== undefined) throw new PieError(`${path}: <include href='${href}'/> with an xpointer is not supported`);
    let target: string;
    try {
      const url = new URL(href, pathToFileURL(path));
      if (url.protocol !== "file:" || /^[a-z][a-z0-9+.-]*:/i.test(href) || href.startsWith("/")) throw new Error("not relative");
      target = fileURLToPath(url);
    } catch {
      throw new PieError(`${path}: <include href='${href}'/> is not a relative reference to a file`);
    }
    const real = realPath(target, path, href);
    const rel = relative(at.folder, real);
    if (rel.startsWith("..") || isAbsolute(rel)) throw new PieError(`${path}: <include href='${href}'/> leads out of the export's folder ${at.folder}`);
    if (at.chain.includes(real) || at.chain.includes(target)) throw new PieError(`${path}: <include href='${href}'/> includes a file that is already being read (a cycle)`);
    return real;
  }
}

/**
 * Parses a file with the server's parser, its limits sized to the file. `root` is told of the
 * root element and says whether its children are handed to `child` one by one, in order, as each
 * completes (and then dropped: a host file holds many users, one in memory at a time); otherwise
 * they stay on the root, which is returned whole.
 */
async function parseFile(path: string, size: number, on: { root(el: Element): boolean; child(el: Element): Promise<void> }): Promise<Element> {
  let root: Element | undefined;
  let streamed = false;
  let failure: string | undefined;
  let ended = false;
  const ready: Element[] = [];
  const parser = new StreamParser({
    streamStart: (name, attrs) => {
      root = xml(name, attrs);
      streamed = on.root(root);
    },
    stanza: (el) => {
      root!.append(el); // its parent, so that namespaces the root declares resolve
      if (streamed) ready.push(el);
    },
    streamEnd: () => void (ended = true),
    error: (condition, text) => void (failure ??= `${condition}: ${text}`),
  }, { maxStanzaSize: Math.max(size, 1), maxDepth: MAX_DEPTH, maxAttributes: 256, maxNameLength: 1024 });
  let offset = 0;
  try {
    for await (const chunk of createReadStream(path, { highWaterMark: 1 << 16 }) as AsyncIterable<Buffer>) {
      parser.write(chunk);
      if (failure) throw new PieError(`${path}: not a readable XML file (${failure}, within bytes ${offset}-${offset + chunk.length})`);
      offset += chunk.length;
      for (let el = ready.shift(); el; el = ready.shift()) {
        await on.child(el);
        root!.remove(el);
      }
    }
  } catch (e) {
    if (e instanceof PieError) throw e;
    throw new PieError(`${path}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  if (!root || !ended) throw new PieError(`${path}: the file ends before its root element does`);
  return root;
}

function isInclude(el: Element): boolean {
  return el.getName() === "include" && el.getNS() === XINCLUDE;
}

function hostOf(el: Element, path: string): string {
  const jid = el.attrs.jid;
  if (!jid) throw new PieError(`${path}: a <host/> without its jid`);
  return jid;
}

function realFolder(path: string): string {
  try {
    return realpathSync(dirname(path));
  } catch {
    return dirname(path);
  }
}

function realPath(target: string, from: string, href: string): string {
  try {
    return realpathSync(target);
  } catch (e) {
    throw new PieError(`${from}: <include href='${href}'/>: cannot read ${target} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

function mib(bytes: number): string {
  return `${Math.round(bytes / (1 << 20))} MiB`;
}
