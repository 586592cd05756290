// Element and attribute names: XML 1.0 §2.3 Name restricted to a QName (Namespaces in XML 1.0
// §3: at most one ':', with a name character on each side), bounded by maxNameLength before the
// scan goes on, and interned so common names are not sliced anew.
import { CHARS } from "./chars.ts";
import { PARSE, type ParserState } from "./state.ts";

const { ASCII, NAME_CHAR, NAME_COLON, NAME_START, nameCharWidth } = CHARS;
const { NEED } = PARSE;

// Names repeat endlessly (to, from, id, type, xmlns, body ...). Reusing one string per name
// instead of slicing a new one spares an allocation and, for attribute names, the string-table
// lookup V8 does when a fresh string becomes a property key. Slots fill on first use with short
// names only: a slice of 13+ characters would pin its whole chunk in memory.
const NAME_SLOTS = 1024;
const NAME_CACHE: (string | undefined)[] = new Array<string | undefined>(NAME_SLOTS).fill(undefined);

const nameSlot = (buf: string, start: number, end: number): number => {
  const n = end - start;
  return (n * 7 + buf.charCodeAt(start) * 31 + buf.charCodeAt(end - 1) * 131 + buf.charCodeAt(start + (n >> 1))) & (NAME_SLOTS - 1);
};

/** buf[start, end) as a string, the cached one if it is there. */
const nameAt = (buf: string, start: number, end: number): string => {
  const h = nameSlot(buf, start, end);
  const known = NAME_CACHE[h];
  if (known !== undefined && known.length === end - start && buf.startsWith(known, start)) return known;
  const name = buf.slice(start, end);
  if (known === undefined && name.length < 13) NAME_CACHE[h] = name;
  return name;
};

for (const name of [
  "to", "from", "id", "type", "xmlns", "xml:lang", "version", "xmlns:stream", "stream:stream",
  "message", "presence", "iq", "body", "subject", "thread", "show", "status", "priority", "error",
  "text", "query", "item", "jid", "name", "subscription", "ask", "ver", "node", "hash", "c", "x",
  "stream:features", "stream:error", "active", "composing", "paused", "request", "received",
  "origin-id", "stanza-id", "by", "delay", "stamp", "ping", "bind", "resource", "r", "a", "h",
  "enable", "enabled", "resume", "resumed", "previd", "result", "forwarded", "sent", "var", "value",
]) NAME_CACHE[nameSlot(name, 0, name.length)] ??= name;

/**
 * A QName at i; sets `colon` (offset of its ':' or -1). Bounded by maxNameLength before scanning on.
 * One function on purpose, as are attribute() and attrValue(): split into helpers, V8 inlines the
 * per-token path differently and the parser loses 5-10% (test/bench/parser.ts).
 */
const scanName = (p: ParserState, buf: string, i: number, len: number, max: number): number => {
  const start = i;
  if (i >= len) return NEED;
  const c0 = buf.charCodeAt(i);
  if (c0 < 128) {
    if ((ASCII[c0]! & NAME_START) === 0) return p.fail("not-well-formed", "invalid name");
    i++;
  } else {
    const w = nameCharWidth(buf, i, len, true);
    if (w <= 0) return w === NEED ? NEED : p.fail("not-well-formed", "invalid name");
    i += w;
  }
  const stop = start + max < len ? start + max + 1 : len;
  let colon = -1;
  while (i < stop) {
    const c = buf.charCodeAt(i);
    if (c < 128) {
      const k = ASCII[c]!;
      if ((k & NAME_CHAR) !== 0) {
        i++;
        continue;
      }
      if ((k & NAME_COLON) === 0) break;
      if (colon >= 0) return p.fail("not-well-formed", "a name has more than one ':'");
      colon = i++;
      continue;
    }
    const w = nameCharWidth(buf, i, len, false);
    if (w === 0) break;
    if (w === NEED) return NEED;
    i += w;
  }
  if (i - start > max) return p.fail("policy-violation", "name too long");
  if (i >= len) return NEED;
  if (colon >= 0) {
    const d = buf.charCodeAt(colon + 1);
    if (d < 128 ? (ASCII[d]! & NAME_START) === 0 : nameCharWidth(buf, colon + 1, len, true) <= 0) {
      return p.fail("not-well-formed", "invalid prefixed name");
    }
    colon -= start;
  }
  p.colon = colon;
  return i;
};

/** This module's functions, for importers to destructure into module-local consts (see state.ts). */
export const NAMES = { nameAt, scanName };
