// Fuzz target: the DER reader behind a peer certificate's names (src/transports/der.ts,
// peer-certificate.ts): any bytes give elements inside their parents, or none, and never throw.
import type { X509Certificate } from "node:crypto";
import { children, element, type Element } from "../../../src/transports/der.ts";
import { certificateNames, matchesDomain } from "../../../src/transports/peer-certificate.ts";

function walk(der: Buffer, e: Element | undefined, depth: number): void {
  if (e === undefined || depth > 32) return;
  if (!(e.start <= e.end && e.end <= der.length)) throw new Error("an element past its buffer");
  let last = e.start;
  for (const c of children(der, e)) {
    if (c.start < last || c.end > e.end) throw new Error("a child outside its parent");
    last = c.end;
    walk(der, c, depth + 1);
  }
}

export function fuzz(data: Buffer): void {
  walk(data, element(data, 0), 0);
  const cert = { raw: data } as X509Certificate;
  certificateNames(cert);
  matchesDomain(cert, "example.org");
}

export const seeds = [Buffer.from("30820100a0030201023003020100a38180307e301d0603551d110416301482126578616d706c652e6f7267", "hex")];
export const dictionary = [[0x30], [0x31], [0x06, 0x03, 0x55, 0x1d, 0x11], [0x04], [0x82], [0xa0], [0xa3], [0x81], [0x84, 0xff, 0xff, 0xff, 0xff], [0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x08, 0x05]]
  .map((b) => Buffer.from(b));
