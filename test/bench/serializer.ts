// Serializer benchmark: ltx's Element#toString against serialize() (src/xml/serialize.ts) on the
// same parsed chat stanzas, after checking that both write the same text. Run: node test/bench/serializer.ts
import { Element } from "ltx";
import { StreamParser } from "../../src/xml/parser.ts";
import { serialize } from "../../src/xml/serialize.ts";

const STANZAS = 10_000;
const RUNS = 7;

const els: Element[] = [];
const parser = new StreamParser({ streamStart() {}, streamEnd() {}, error(c, t) { throw new Error(`${c}: ${t}`); }, stanza(el) { els.push(el); } },
  { maxStanzaSize: 1 << 18, maxDepth: 32, maxAttributes: 64, maxNameLength: 256 });
parser.write("<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>");
for (let n = 0; n < STANZAS; n++) {
  parser.write(n % 3
    ? `<message to='b${n}@localhost/chat' type='chat' id='m${n}-${n * 7}' from='b${n + 1}@localhost/chat'><body>${n}:${n * 3}</body></message>`
    : `<message from='romeo@montague.lit/orchard' to='juliet@capulet.lit/balcony' type='chat' id='x${n}'><body>What&apos;s in a name? ` +
      `&lt;rose&gt; 🌹</body><active xmlns='http://jabber.org/protocol/chatstates'/><request xmlns='urn:xmpp:receipts'/>` +
      `<origin-id xmlns='urn:xmpp:sid:0' id='o${n}'/></message>`);
}
const ltx = (el: Element) => Element.prototype.toString.call(el);
for (const el of els) if (serialize(el) !== ltx(el)) throw new Error(`differs: ${ltx(el)}`);
console.log(`node ${process.version}; ${els.length} stanzas (two thirds benchmark-style chats, one third with escapes and payloads)`);
for (const [name, write] of [["ltx Element#toString", ltx], ["serialize()", serialize]] as const) {
  let best = Infinity;
  let bytes = 0;
  for (let r = 0; r < RUNS; r++) {
    const t0 = performance.now();
    bytes = 0;
    for (const el of els) bytes += write(el).length;
    best = Math.min(best, performance.now() - t0);
  }
  console.log(`${name.padEnd(22)} ${Math.round(els.length / (best / 1000)).toString().padStart(10)} stanzas/s (${bytes} chars)`);
}
