// Parser benchmark: our StreamParser against ltx's tokenizer (driven the way @xmpp/xml drives
// it) and sax (strict, xmlns), each building ltx Elements from the same stream of chat
// stanzas fed as 4 KiB Buffer chunks. Also shows which of them refuse the XML that RFC 6120
// §11 restricts. Run: node test/bench/parser.ts
import { createRequire } from "node:module";
import { TextDecoder } from "node:util";
import sax from "sax";
import { Element } from "../../src/xml/element.ts";
import { StreamParser } from "../../src/xml/parser.ts";

const STANZAS = 10_000;
const CHUNK = 4096;
const RUNS = 5;

const HEADER = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' " +
  "xmlns:stream='http://etherx.jabber.org/streams' to='capulet.lit' version='1.0' xml:lang='en'>";
const FOOTER = "</stream:stream>";

const LINES = [
  "Art thou not Romeo, and a Montague?",
  "Neither, fair saint, if either thee dislike. Café & crème — ça va?",
  "With love's light wings did I o'erperch these walls 🌹",
  "What's in a name? That which we call a rose <by any other name>",
];

/** A realistic mix: chats with chat states and receipts, presences with caps, pings and roster gets. */
function stanza(n: number): string {
  const id = `id-${n.toString(36)}-${(n * 7919 % 100000).toString(36)}`;
  const kind = n % 10;
  if (kind < 7) {
    const text = LINES[n % LINES.length]!.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
    return `<message from='romeo@montague.lit/orchard' to='juliet@capulet.lit/balcony' type='chat' id='${id}'>` +
      `<body>${text}</body><active xmlns='http://jabber.org/protocol/chatstates'/>` +
      `<request xmlns='urn:xmpp:receipts'/><origin-id xmlns='urn:xmpp:sid:0' id='${id}'/></message>`;
  }
  if (kind < 9) {
    return `<presence from='romeo@montague.lit/orchard' id='${id}'><show>away</show><status>Out in the orchard</status>` +
      `<priority>5</priority><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='https://conversations.im' ` +
      `ver='QgayPKawpkPSDYmwT/WM94uAlu0='/></presence>`;
  }
  return n % 20 === 9
    ? `<iq type='get' id='${id}' to='capulet.lit'><ping xmlns='urn:xmpp:ping'/></iq>\n`
    : `<iq type='get' id='${id}'><query xmlns='jabber:iq:roster' ver='ver14'/></iq> `;
}

function buildStream(): Buffer {
  const parts = [HEADER];
  for (let n = 0; n < STANZAS; n++) parts.push(stanza(n));
  parts.push(FOOTER);
  return Buffer.from(parts.join(""), "utf8");
}

function chunks(data: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < data.length; i += CHUNK) out.push(data.subarray(i, i + CHUNK));
  return out;
}

/** Feeds the chunks; returns the number of stanzas built, or an error message. */
type Driver = (input: Buffer[]) => number | string;

const LIMITS = { maxStanzaSize: 1 << 18, maxDepth: 32, maxAttributes: 64, maxNameLength: 256 };

const ours: Driver = (input) => {
  let count = 0;
  let error = "";
  const p = new StreamParser({
    streamStart() {},
    stanza() { count++; },
    streamEnd() {},
    error(condition, text) { error = `${condition}: ${text}`; },
  }, LIMITS);
  for (const c of input) p.write(c);
  return error || count;
};

interface LtxTokenizer {
  on(event: "startElement", fn: (name: string, attrs: Record<string, string>) => void): void;
  on(event: "endElement", fn: (name: string) => void): void;
  on(event: "text", fn: (text: string) => void): void;
  write(data: string): void;
}
const require = createRequire(import.meta.url);
const LtxParser = require("ltx/lib/parsers/ltx.js") as new () => LtxTokenizer;

/** ltx's tokenizer with the tree building and end-tag check @xmpp/xml's Parser adds. */
const ltx: Driver = (input) => {
  let count = 0;
  let error = "";
  let root: Element | null = null;
  let cursor: Element | null = null;
  const p = new LtxParser();
  p.on("startElement", (name, attrs) => {
    const el = new Element(name, attrs);
    if (root === null) root = el;
    else if (cursor !== root) cursor!.append(el);
    cursor = el;
  });
  p.on("endElement", (name) => {
    if (cursor === null || name !== cursor.name) { error ||= `mismatched </${name}>`; return; }
    if (cursor === root) return;
    if (cursor.parent === null) { count++; cursor = root; return; }
    cursor = cursor.parent;
  });
  p.on("text", (text) => {
    if (cursor === null) { error ||= "text outside the root"; return; }
    cursor.t(text);
  });
  const decoder = new TextDecoder("utf-8");
  for (const c of input) p.write(decoder.decode(c, { stream: true }));
  return error || count;
};

/** sax in strict mode with namespace processing, building the same tree. */
const saxDriver: Driver = (input) => {
  let count = 0;
  let error = "";
  let depth = 0;
  const stack: Element[] = [];
  const p = sax.parser(true, { xmlns: true });
  p.onerror = (e) => { error ||= e.message.split("\n")[0]!; p.error = null as unknown as Error; };
  p.onopentag = (tag) => {
    const attrs: Record<string, string> = {};
    for (const [k, a] of Object.entries((tag as sax.QualifiedTag).attributes)) attrs[k] = a.value;
    const el = new Element(tag.name, attrs);
    if (depth > 1) stack[stack.length - 1]!.append(el);
    stack.push(el);
    depth++;
  };
  p.onclosetag = () => {
    stack.pop();
    depth--;
    if (depth === 1) count++;
  };
  p.ontext = p.oncdata = (t) => { if (depth > 1) stack[stack.length - 1]!.t(t); };
  const decoder = new TextDecoder("utf-8");
  for (const c of input) p.write(decoder.decode(c, { stream: true }));
  return error || count;
};

const DRIVERS: [string, Driver][] = [["ours (StreamParser)", ours], ["ltx tokenizer", ltx], ["sax strict+xmlns", saxDriver]];

function bench(): void {
  const data = buildStream();
  const input = chunks(data);
  console.log(`node ${process.version}; stream: ${STANZAS} stanzas, ${(data.length / 1e6).toFixed(2)} MB ` +
    `(${Math.round((data.length - HEADER.length - FOOTER.length) / STANZAS)} bytes/stanza), ${input.length} chunks of ${CHUNK} B`);
  console.log(`best of ${RUNS} runs       MB/s   stanzas/s`);
  for (const [name, drive] of DRIVERS) {
    const first = drive(input); // warm-up, and a check that it parses the stream at all
    if (first !== STANZAS) throw new Error(`${name}: ${first}`);
    let best = Infinity;
    for (let r = 0; r < RUNS; r++) {
      const t0 = performance.now();
      drive(input);
      best = Math.min(best, performance.now() - t0);
    }
    const s = best / 1000;
    console.log(`${name.padEnd(20)} ${(data.length / 1e6 / s).toFixed(1).padStart(7)} ${Math.round(STANZAS / s).toString().padStart(11)}`);
  }
}

const OPEN = "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>";
const RESTRICTED: [string, string][] = [
  ["comment", `${OPEN}<message><!-- hi --><body>x</body></message>`],
  ["DOCTYPE", `<?xml version='1.0'?><!DOCTYPE stream:stream [<!ENTITY x 'y'>]>${OPEN}<message/>`],
  ["processing instruction", `${OPEN}<message><?php echo 1; ?></message>`],
  ["mismatched tag", `${OPEN}<message><body>x</bdoy></message>`],
  ["undefined entity", `${OPEN}<message><body>&nbsp;</body></message>`],
];

function rejections(): void {
  console.log("\nrejects?                " + DRIVERS.map(([n]) => n.split(" ")[0]!.padEnd(6)).join(" "));
  for (const [what, xml] of RESTRICTED) {
    const cells = DRIVERS.map(([, drive]) => {
      try {
        return (typeof drive([Buffer.from(xml)]) === "string" ? "yes" : "no").padEnd(6);
      } catch {
        return "throws"; // an exception out of write(), not an error event
      }
    });
    console.log(`${what.padEnd(23)} ${cells.join(" ")}`);
  }
}

bench();
rejections();
