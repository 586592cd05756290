// XEP-0059 Result Set Management over a list kept in order by its keys (disco#items of the pubsub
// and MUC services): the request read from the query's <set/>, the page taken from the keys by
// binary search, and the <set/> of the answer. A request without <set/> still gets a bounded page
// with the <set/> that tells the rest is there: §2.6 lets the responder "return a limited number
// of items" and §2.1 names the answer's <set/> as the way to ask for more.
import { child, childText, xml, type Element } from "../xml/element.ts";
import { NS } from "../xml/ns.ts";
import { StanzaError } from "./errors.ts";

export interface RsmRequest {
  /** Items on the page at most (already capped); 0 asks for the count only (§2.7). */
  readonly max: number;
  readonly after?: string;
  /** "" asks for the last page (§2.5). */
  readonly before?: string;
  /** §2.4: the page that starts at this position of the full list. */
  readonly index?: number;
}

const COUNT = /^\s*\d{1,9}\s*$/;

/**
 * The request of `query`'s <set/>, a <max/> above `cap` brought down to it (§2.1: "the responding
 * entity MAY return fewer"); without <set/>, the first `cap` items. Malformed is bad-request.
 */
export function parseRsm(query: Element, cap: number): RsmRequest {
  const set = child(query, "set", NS.rsm);
  if (!set) return { max: cap };
  const max = childText(set, "max");
  if (max !== undefined && !COUNT.test(max)) throw new StanzaError("bad-request", "<max/> must be a non-negative integer");
  const index = childText(set, "index");
  if (index !== undefined && !COUNT.test(index)) throw new StanzaError("bad-request", "<index/> must be a non-negative integer");
  const after = childText(set, "after");
  if (after !== undefined && after === "") throw new StanzaError("bad-request", "<after/> needs an id");
  return {
    max: max === undefined ? cap : Math.min(Number(max), cap),
    after, before: childText(set, "before"),
    index: index === undefined ? undefined : Number(index),
  };
}

export interface RsmPage {
  /** The keys on the page, in the list's order. */
  readonly keys: readonly string[];
  /** Position of the first of them in the full list. */
  readonly index: number;
  /** Items of the full list. */
  readonly count: number;
}

/** Position of the first key not below `key` in `sorted`. */
export function lowerBound(sorted: readonly string[], key: string): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * The page of `sorted` (ascending, no duplicates) the request names. An <after/> or <before/>
 * naming no item of the list is item-not-found (§2.3: "If the UID ... does not exist, the
 * responding entity SHOULD return an <item-not-found/> error").
 */
export function rsmPage(sorted: readonly string[], r: RsmRequest): RsmPage {
  const at = (key: string) => {
    const i = lowerBound(sorted, key);
    if (sorted[i] !== key) throw new StanzaError("item-not-found", `no item ${key} in the result set`);
    return i;
  };
  let start: number;
  let end: number;
  if (r.before !== undefined) {
    end = r.before === "" ? sorted.length : at(r.before);
    start = Math.max(0, end - r.max);
  } else {
    start = r.after !== undefined ? at(r.after) + 1 : Math.min(r.index ?? 0, sorted.length);
    end = Math.min(sorted.length, start + r.max);
  }
  return { keys: sorted.slice(start, end), index: start, count: sorted.length };
}

/** The answer's <set/> (§2.1): first (with its index) and last only when the page has items, the count always. */
export function rsmSet(page: RsmPage): Element {
  const first = page.keys[0];
  const last = page.keys[page.keys.length - 1];
  return xml("set", { xmlns: NS.rsm },
    first !== undefined ? xml("first", { index: String(page.index) }, first) : undefined,
    last !== undefined ? xml("last", null, last) : undefined,
    xml("count", null, String(page.count)));
}

/** Keys kept in ascending order: O(log n) to find, O(n) memmove to add or remove (fine to 10^5-10^6). */
export class SortedKeys {
  private readonly keys: string[] = [];

  get size(): number {
    return this.keys.length;
  }

  /** The keys in order (not to be changed by the caller). */
  get list(): readonly string[] {
    return this.keys;
  }

  has(key: string): boolean {
    return this.keys[lowerBound(this.keys, key)] === key;
  }

  add(key: string): void {
    const i = lowerBound(this.keys, key);
    if (this.keys[i] !== key) this.keys.splice(i, 0, key);
  }

  delete(key: string): void {
    const i = lowerBound(this.keys, key);
    if (this.keys[i] === key) this.keys.splice(i, 1);
  }
}
