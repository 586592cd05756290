// The archive query of XEP-0313 §4 read into a typed record: the data form's filters (§4.1:
// with, start, end; and, with urn:xmpp:mam:2#extended, before-id, after-id, ids) and the
// XEP-0059 result set request (max, after, before, an empty <before/> for the last page),
// plus <flip-page/>. Malformed input gets the condition the XEPs name; nothing is looked up here.
import { child, childText, elementChildren, xml, type Element } from "../../xml/element.ts";
import { NS } from "../../xml/ns.ts";
import { tryParseJid } from "../../xml/jid.ts";
import { StanzaError } from "../../core/errors.ts";

const XDATA_VALIDATE = "http://jabber.org/protocol/xdata-validate";
/** Ids a query may name in its 'ids' field: each is one row to look up. */
export const MAX_IDS = 256;
const MAX_ID_LENGTH = 128;

export interface MamQuery {
  queryid: string | undefined;
  /** The filters of the full result set. */
  with?: string;
  start?: number;
  end?: number;
  afterId?: string;
  beforeId?: string;
  ids?: string[];
  /** The page: at most `max` results (already capped), after / before an id; before "" is the last page. */
  max: number;
  after?: string;
  before?: string;
  flip: boolean;
}

/**
 * XEP-0082 DateTime (CCYY-MM-DDThh:mm:ss[.sss]TZD) as ms since the epoch, or undefined when the
 * text is not one. Fractions beyond milliseconds are cut; a day or an hour out of range is refused.
 */
export function parseDateTime(text: string): number | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})$/.exec(text.trim());
  if (!m) return undefined;
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const ms = m[7] ? Number(m[7].slice(0, 3).padEnd(3, "0")) : 0;
  if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || s > 59) return undefined;
  const at = Date.UTC(y, mo - 1, d, h, mi, s, ms);
  if (new Date(at).getUTCDate() !== d) return undefined; // 31 April, 30 February
  const tz = m[8]!;
  if (tz === "Z") return at;
  const oh = Number(tz.slice(1, 3));
  const om = Number(tz.slice(4, 6));
  if (oh > 23 || om > 59) return undefined;
  return at - (tz[0] === "-" ? -1 : 1) * (oh * 60 + om) * 60_000;
}

/** A timestamp as XEP-0082 DateTime in UTC, with milliseconds (so that start/end filters by it are exact). */
export function dateTime(ms: number): string {
  return new Date(ms).toISOString();
}

function fieldValues(field: Element): string[] {
  return field.getChildren("value").map((v) => v.getText());
}

function single(field: Element, name: string): string | undefined {
  const values = fieldValues(field);
  if (values.length > 1) throw new StanzaError("bad-request", `'${name}' takes one value`);
  const v = values[0]?.trim();
  return v === "" ? undefined : v;
}

function anId(v: string | undefined, name: string): string | undefined {
  if (v !== undefined && v.length > MAX_ID_LENGTH) throw new StanzaError("item-not-found", `no message has the ${name} given`);
  return v;
}

function applyForm(q: MamQuery, form: Element): void {
  for (const field of form.getChildren("field")) {
    const name = field.attrs.var ?? "";
    switch (name) {
      case "FORM_TYPE":
        if (single(field, name) !== NS.mam) throw new StanzaError("bad-request", `FORM_TYPE must be ${NS.mam}`);
        break;
      case "with": {
        const v = single(field, name);
        if (v === undefined) break;
        const jid = tryParseJid(v);
        if (!jid) throw new StanzaError("bad-request", `'with' is not a JID: ${v}`);
        q.with = jid.toString();
        break;
      }
      case "start":
      case "end": {
        const v = single(field, name);
        if (v === undefined) break;
        const at = parseDateTime(v);
        if (at === undefined) throw new StanzaError("bad-request", `'${name}' is not an XEP-0082 DateTime: ${v}`);
        q[name] = at;
        break;
      }
      case "after-id":
        q.afterId = anId(single(field, name), name);
        break;
      case "before-id":
        q.beforeId = anId(single(field, name), name);
        break;
      case "ids": {
        const ids = fieldValues(field).map((v) => v.trim()).filter((v) => v !== "");
        if (ids.length > MAX_IDS) throw new StanzaError("policy-violation", `at most ${MAX_IDS} ids per query`);
        q.ids = ids.map((id) => anId(id, "ids")!);
        break;
      }
      default:
        // §4.1.5: "If a client includes a form field that the server does not recognise, the
        // server MUST respond with a 'feature-not-implemented' error."
        throw new StanzaError("feature-not-implemented", `unknown field '${name}'`);
    }
  }
}

/** The XEP-0059 page request. A max beyond the server's page limit is brought down to it (XEP-0313 §4.3.1 allows it). */
function applySet(q: MamQuery, set: Element, pageLimit: number): void {
  const max = childText(set, "max");
  if (max !== undefined) {
    if (!/^\s*\d{1,9}\s*$/.test(max)) throw new StanzaError("bad-request", "<max/> must be a non-negative integer");
    q.max = Math.min(Number(max), pageLimit);
  }
  const after = childText(set, "after");
  if (after !== undefined) {
    if (after.trim() === "") throw new StanzaError("bad-request", "<after/> needs an id");
    q.after = anId(after.trim(), "after");
  }
  const before = childText(set, "before");
  if (before !== undefined) q.before = anId(before.trim(), "before");
  if (child(set, "index")) throw new StanzaError("feature-not-implemented", "page by id (after/before), not by index");
}

/** The <query xmlns='urn:xmpp:mam:2'/> of an iq set, read; throws the StanzaError its fault calls for. */
export function parseMamQuery(query: Element, pageLimit: number): MamQuery {
  const q: MamQuery = { queryid: query.attrs.queryid, max: pageLimit, flip: false };
  if (query.attrs.node !== undefined) throw new StanzaError("item-not-found", "user archives have no nodes");
  for (const c of elementChildren(query)) {
    if (c.name === "x" && c.attrs.xmlns === NS.dataForms) applyForm(q, c);
    else if (c.name === "set" && c.attrs.xmlns === NS.rsm) applySet(q, c, pageLimit);
    else if (c.name === "flip-page") q.flip = true;
  }
  return q;
}

/** §4.1.5: the fields a query may use (the answer to an iq get of the query). */
export function queryForm(): Element {
  return xml("query", { xmlns: NS.mam },
    xml("x", { xmlns: NS.dataForms, type: "form" },
      xml("field", { type: "hidden", var: "FORM_TYPE" }, xml("value", null, NS.mam)),
      xml("field", { type: "jid-single", var: "with" }),
      xml("field", { type: "text-single", var: "start" }),
      xml("field", { type: "text-single", var: "end" }),
      xml("field", { type: "text-single", var: "before-id" }),
      xml("field", { type: "text-single", var: "after-id" }),
      // "the server MUST include a XEP-0122 <validate/> element that signals the list is open".
      xml("field", { type: "list-multi", var: "ids" },
        xml("validate", { xmlns: XDATA_VALIDATE, datatype: "xs:string" }, xml("open")))));
}
