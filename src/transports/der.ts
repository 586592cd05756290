// A reader of DER (X.690 §8, §10) for the few certificate fields Node's X509Certificate does not
// give: elements with one-byte tags and lengths up to four bytes, bounds checked against the
// buffer, undefined or nothing rather than an exception for anything else.

/** A DER element: its tag and where its contents are. */
export interface Element { tag: number; start: number; end: number }

/** The element at `offset`, or undefined if the bytes there are not one (a multi-byte tag, a length past the end). */
export function element(der: Buffer, offset: number): Element | undefined {
  if (offset + 2 > der.length) return undefined;
  const tag = der[offset]!;
  if ((tag & 0x1f) === 0x1f) return undefined;
  let length = der[offset + 1]!;
  let start = offset + 2;
  if (length & 0x80) {
    const bytes = length & 0x7f;
    if (bytes === 0 || bytes > 4 || start + bytes > der.length) return undefined;
    length = 0;
    for (let i = 0; i < bytes; i++) length = length * 256 + der[start + i]!;
    start += bytes;
  }
  return start + length > der.length ? undefined : { tag, start, end: start + length };
}

/** The elements inside a constructed one; none for a primitive, a missing or a malformed one. */
export function children(der: Buffer, parent: Element | undefined): Element[] {
  if (parent === undefined || (parent.tag & 0x20) === 0) return [];
  const out: Element[] = [];
  for (let offset = parent.start; offset < parent.end;) {
    const e = element(der, offset);
    if (e === undefined || e.end > parent.end) return [];
    out.push(e);
    offset = e.end;
  }
  return out;
}

/** An element's contents in hex (to compare object identifiers). */
export function hex(der: Buffer, e: Element): string {
  return der.toString("hex", e.start, e.end);
}
