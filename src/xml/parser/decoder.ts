// Input decoding: RFC 6120 §11.6, XMPP streams are UTF-8. Bytes are decoded as a stream (a
// character cut by a chunk boundary waits for the next chunk) and invalid UTF-8 is refused,
// never replaced. A byte order mark may open a stream (XML 1.0 §4.3.3) and is dropped, from
// bytes as from the first string written.
//
// No TextDecoder: each one holds an ICU converter, about 0.9 KB of a connection's resident
// memory for as long as it lives. A chunk is checked whole with isUtf8 (simdutf) and decoded with
// toString; only the bytes of a character the chunk cuts are kept, until the next chunk. What
// is refused is what the WHATWG fatal decoder refuses (overlongs, surrogates, code points past
// U+10FFFF, stray continuation bytes), and as early: a cut character whose first bytes cannot
// begin a valid one fails at once.
import { isUtf8 } from "node:buffer";

export class ChunkDecoder {
  /** The first bytes of a character cut by the end of the last chunk. */
  private partial: Buffer | null = null;
  /** Nothing decoded yet in this stream: the first text may open with a byte order mark. */
  private fresh = true;

  /** A new stream: the next chunk may open with a byte order mark; no bytes are pending. */
  reset(): void {
    this.partial = null;
    this.fresh = true;
  }

  /** The text of `chunk`, or null if it is not valid UTF-8. */
  decode(chunk: Buffer | string): string | null {
    let s: string;
    if (typeof chunk === "string") {
      s = chunk;
      if (this.fresh && s.charCodeAt(0) === 0xfeff) s = s.slice(1);
      this.fresh = false;
      return s;
    }
    let bytes = chunk;
    if (this.partial !== null) {
      bytes = Buffer.concat([this.partial, chunk]);
      this.partial = null;
    }
    const end = completeEnd(bytes);
    if (end < 0) return null;
    if (end < bytes.length) {
      this.partial = Buffer.from(bytes.subarray(end)); // a copy: the chunk itself is not kept
      bytes = bytes.subarray(0, end);
    }
    if (bytes.length === 0) return "";
    if (!isUtf8(bytes)) return null;
    s = bytes.toString("utf8");
    if (this.fresh) {
      this.fresh = false;
      if (s.charCodeAt(0) === 0xfeff) s = s.slice(1);
    }
    return s;
  }
}

/**
 * Where the last complete character of `b` ends: b.length unless the chunk ends inside a
 * character, then the offset of that character's first byte; -1 when those first bytes can
 * start no valid character (what is not cut is left for isUtf8 to judge).
 */
function completeEnd(b: Buffer): number {
  const n = b.length;
  let i = n - 1;
  // Back over at most three continuation bytes (10xxxxxx) to the byte that may lead them.
  while (i >= 0 && i > n - 4 && ((b[i] as number) & 0xc0) === 0x80) i--;
  if (i < 0) return n;
  const lead = b[i] as number;
  const need = lead >= 0xc2 && lead <= 0xdf ? 2 : lead >= 0xe0 && lead <= 0xef ? 3 : lead >= 0xf0 && lead <= 0xf4 ? 4 : 1;
  const have = n - i;
  if (have >= need) return n;
  // A cut character: its second byte (if here) must be one that lead allows (Unicode Table 3-7).
  if (have >= 2) {
    const second = b[i + 1] as number;
    const lo = lead === 0xe0 ? 0xa0 : lead === 0xf0 ? 0x90 : 0x80;
    const hi = lead === 0xed ? 0x9f : lead === 0xf4 ? 0x8f : 0xbf;
    if (second < lo || second > hi) return -1;
  }
  // The bytes before it must be valid on their own; isUtf8 checks them with the rest.
  return i;
}
