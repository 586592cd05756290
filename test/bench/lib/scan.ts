// Reading a stream without parsing it: the generator's messages carry "<body>F:S</body>" (F the
// sender's index, S its sequence number), so a receiver finds them with Buffer.indexOf and two
// digit loops, whatever the server did to the attributes around them. A body cut by a chunk
// boundary is carried to the next chunk. Error stanzas are counted by their <error> child.
const BODY = Buffer.from("<body>");
const ERROR = Buffer.from("<error");
const ZERO = 48;
const NINE = 57;
const COLON = 58;

export type OnBody = (from: number, seq: number) => void;

export interface Scanner {
  (chunk: Buffer): void;
  /** <error> children seen (error stanzas the server sent). */
  errors: number;
}

/** A chunk handler calling onBody for every generator body in the stream, in order. */
export function bodyScanner(onBody: OnBody): Scanner {
  let carry: Buffer | undefined;
  const scan = ((chunk: Buffer) => {
    const buf = carry ? Buffer.concat([carry, chunk]) : chunk;
    carry = undefined;
    const len = buf.length;
    let pos = 0;
    for (let e = buf.indexOf(ERROR, 0); e >= 0; e = buf.indexOf(ERROR, e + 6)) scan.errors++;
    for (;;) {
      const i = buf.indexOf(BODY, pos);
      if (i < 0) break;
      let j = i + 6;
      let a = 0;
      let c = 0;
      while (j < len && (c = buf[j]!) >= ZERO && c <= NINE) {
        a = a * 10 + c - ZERO;
        j++;
      }
      if (j >= len) {
        carry = Buffer.from(buf.subarray(i));
        return;
      }
      if (c !== COLON) {
        pos = j;
        continue;
      }
      j++;
      let b = 0;
      while (j < len && (c = buf[j]!) >= ZERO && c <= NINE) {
        b = b * 10 + c - ZERO;
        j++;
      }
      if (j >= len) {
        carry = Buffer.from(buf.subarray(i));
        return;
      }
      onBody(a, b);
      pos = j;
    }
    // The last bytes may be the start of a "<body>" the next chunk completes.
    const tail = Math.max(pos, len - (BODY.length - 1));
    if (tail < len) carry = Buffer.from(buf.subarray(tail));
  }) as Scanner;
  scan.errors = 0;
  return scan;
}

/** A chunk handler that calls `hit` for each occurrence of one of the markers (e.g. MUC status 110). */
export function markerScanner(markers: string[], hit: () => void): (chunk: Buffer) => void {
  const bufs = markers.map((m) => Buffer.from(m));
  const keep = Math.max(...bufs.map((b) => b.length)) - 1;
  let carry: Buffer | undefined;
  return (chunk) => {
    const buf = carry ? Buffer.concat([carry, chunk]) : chunk;
    for (const m of bufs) {
      // Occurrences wholly inside the carried tail were counted with the previous chunk.
      const from = carry ? Math.max(0, carry.length - m.length + 1) : 0;
      for (let i = buf.indexOf(m, from); i >= 0; i = buf.indexOf(m, i + m.length)) {
        if (carry && i + m.length <= carry.length) continue;
        hit();
      }
    }
    carry = buf.length > keep ? Buffer.from(buf.subarray(buf.length - keep)) : Buffer.from(buf);
  };
}
