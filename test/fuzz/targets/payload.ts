// Fuzz target: what modules read from a payload, after the parser: XEP-0004 submissions and
// forms checked against fields (src/core/forms.ts), XEP-0059 requests and pages (src/core/rsm.ts).
// Any element the parser gives is read or refused with a StanzaError; nothing else is thrown.
import { StanzaError } from "../../../src/core/errors.ts";
import { parseSubmission, readForm, type Field } from "../../../src/core/forms.ts";
import { parseRsm, rsmPage, rsmSet } from "../../../src/core/rsm.ts";
import type { Element } from "../../../src/xml/element.ts";
import { StreamParser } from "../../../src/xml/parser.ts";
import { OPEN } from "../xml.ts";

const FIELDS: Field[] = [
  { type: "boolean", var: "b" }, { type: "jid-single", var: "j", required: true }, { type: "jid-multi", var: "jm" },
  { type: "list-single", var: "l", options: [{ value: "1" }, { value: "2" }] }, { type: "text-multi", var: "t" }, { type: "hidden", var: "FORM_TYPE" },
];
const KEYS = ["a", "b", "k1", "k5", "z"];

function guard(f: () => unknown): void {
  try {
    f();
  } catch (e) {
    if (!(e instanceof StanzaError)) throw e;
  }
}

export function fuzz(data: Buffer): void {
  const els: Element[] = [];
  new StreamParser({ streamStart: () => {}, stanza: (el) => { els.push(el); }, streamEnd: () => {}, error: () => {} },
    { maxStanzaSize: 4096, maxDepth: 8, maxAttributes: 16, maxNameLength: 64 }).write(Buffer.concat([Buffer.from(OPEN()), data]));
  for (const el of els) {
    const s = parseSubmission(el);
    if (!(s instanceof StanzaError)) {
      const r = readForm(s, FIELDS);
      if (!(r instanceof StanzaError) && !("missing" in r)) {
        r.jids("jm");
        r.bool("b");
        r.lines("t");
      }
    }
    guard(() => {
      const req = parseRsm(el, 10);
      if (req.max < 0 || req.max > 10) throw new Error("max beyond the cap");
      rsmSet(rsmPage(KEYS, req)).toString();
    });
  }
}

export const seeds = [
  "<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>urn:x</value></field><field var='j'><value>a@b</value></field><field var='b'><value>true</value></field></x>",
  "<query xmlns='http://jabber.org/protocol/disco#items'><set xmlns='http://jabber.org/protocol/rsm'><max>5</max><after>k1</after><index>2</index></set></query>",
];
export const dictionary = ["<field var='", "<value>", "</value>", "</field>", "type='submit'", "<set xmlns='http://jabber.org/protocol/rsm'>", "<max>", "</max>",
  "<before/>", "<after>", "</after>", "<index>", "</index>", "jabber:x:data", "-1", "99999999999"];
