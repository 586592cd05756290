// V8 makes a slice of 13 or more characters a view into the string it was cut from: a JID or a
// namespace sliced out of a received chunk pins the whole chunk (up to 64 KB) for as long as it
// is kept. What is kept beyond its stanza (caches, stream state) is copied first.

/** `s` as a string of its own, not a view into a larger one. */
export function detach(s: string): string {
  return s.length < 13 ? s : Buffer.from(s, "utf16le").toString("utf16le");
}
