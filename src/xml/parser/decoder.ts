// Input decoding: RFC 6120 §11.6, XMPP streams are UTF-8. Bytes are decoded as a stream (a
// character cut by a chunk boundary waits for the next chunk) and invalid UTF-8 is refused,
// never replaced. A byte order mark may open a stream (XML 1.0 §4.3.3); TextDecoder drops it
// from bytes, and so is it dropped from the first string written.
import { TextDecoder } from "node:util";

const STREAM_DECODE = { stream: true };

export class ChunkDecoder {
  private decoder: TextDecoder | null = null;
  /** Nothing written yet in this stream: a string may open with a byte order mark, as bytes may. */
  private fresh = true;

  /** A new stream: the next chunk may open with a byte order mark; no bytes are pending. */
  reset(): void {
    this.decoder = null;
    this.fresh = true;
  }

  /** The text of `chunk`, or null if it is not valid UTF-8. */
  decode(chunk: Buffer | string): string | null {
    let s: string;
    if (typeof chunk === "string") s = this.fresh && chunk.charCodeAt(0) === 0xfeff ? chunk.slice(1) : chunk;
    else {
      this.decoder ??= new TextDecoder("utf-8", { fatal: true });
      try {
        s = this.decoder.decode(chunk, STREAM_DECODE);
      } catch {
        return null;
      }
    }
    this.fresh = false;
    return s;
  }
}
