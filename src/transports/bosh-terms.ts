// The terms of a BOSH session (XEP-0124 §7): what the client asks for in its creation request,
// bounded by the connection manager's limits, and the attributes of the creation response that
// state them, with the stream's (XEP-0206 §4).
import { XBOSH, attr, intAttr, type RequestBody } from "./bosh-body.ts";

/** The connection manager's bounds, as configured (http.bosh). */
export interface BoshLimits {
  maxWait: number;
  maxInactivity: number;
  maxHold: number;
  /** Longest pause a client may ask for (§10), in seconds; 0: pauses are not offered. */
  maxPause: number;
  /** New requests one session may have handled per second; beyond it they wait their turn. 0: no bound. */
  requestsPerSecond: number;
}

export interface Terms {
  /** Longest a request is held, in seconds. */
  readonly wait: number;
  /** Requests held at once. */
  readonly hold: number;
  /** Requests the client may have outstanding at once: the window of request ids (§11, §14.2). */
  readonly requests: number;
  /** The stream's 'to' and language, for the headers made at creation and restart. */
  readonly to: string;
  readonly lang: string;
  /** The HTTP content type of the answers (§7.1 'content'). */
  readonly contentType: string;
  readonly ver: string;
}

/** §11, §12: the shortest interval between empty polls that get empty answers, in seconds. */
export const POLLING = 5;
/** The highest version of XEP-0124 spoken here. */
const VERSION = [1, 11] as const;
/** §7.1: the content type of answers unless the client asked for another. */
export const DEFAULT_TYPE = "text/xml; charset=utf-8";
/** A content type a client may ask its answers to carry: a type, and a charset at most. */
const CONTENT_TYPE = /^[\w.+-]+\/[\w.+-]+(\s*;\s*charset=[\w-]+)?$/i;

/** A creation request's wait or hold that is not a number. */
export function malformedTerms(body: RequestBody): boolean {
  return Number.isNaN(intAttr(body, "wait")) || Number.isNaN(intAttr(body, "hold"));
}

/** The terms of the session a creation request asks for (§7.1, §7.2): never beyond the limits. */
export function termsOf(body: RequestBody, limits: BoshLimits): Terms {
  const wait = intAttr(body, "wait");
  const hold = Math.min(intAttr(body, "hold") ?? 1, limits.maxHold);
  const content = body.attrs.content;
  return {
    wait: Math.min(wait ?? limits.maxWait, limits.maxWait),
    hold,
    requests: hold + 1,
    to: body.attrs.to ?? "",
    lang: body.attrs["xml:lang"] ?? "en",
    contentType: content !== undefined && CONTENT_TYPE.test(content) ? content : DEFAULT_TYPE,
    ver: lowerVersion(body.attrs.ver),
  };
}

/**
 * The creation response's attributes (§7.2, XEP-0206 §4): the session's terms, and the stream's id
 * (authid) and origin once our header is out (as written there, escaped).
 */
export function creationAttributes(sid: string, t: Terms, limits: BoshLimits, header: { id: string; from: string } | undefined): string {
  return attr("sid", sid) + attr("wait", t.wait) + attr("inactivity", limits.maxInactivity) + attr("polling", POLLING) +
    attr("requests", t.requests) + attr("hold", t.hold) + attr("ver", t.ver) +
    (limits.maxPause > 0 ? attr("maxpause", limits.maxPause) : "") +
    (header ? ` from='${header.from}' authid='${header.id}'` : "") +
    attr("xmlns:xmpp", XBOSH) + attr("xmpp:version", "1.0") + attr("xmpp:restartlogic", "true");
}

/** §7.2 'ver': the client's version or ours, whichever is lower. */
function lowerVersion(client: string | undefined): string {
  const m = client === undefined ? null : /^(\d{1,4})\.(\d{1,4})$/.exec(client);
  if (!m) return VERSION.join(".");
  const major = Number(m[1]);
  const minor = Number(m[2]);
  return major < VERSION[0] || (major === VERSION[0] && minor < VERSION[1]) ? `${major}.${minor}` : VERSION.join(".");
}
