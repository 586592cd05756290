// XEP-0065's proxy as an XMPP entity on its own domain: what service discovery finds (§4: the
// identity proxy/bytestreams), its network address on request (§4, <streamhost/>), and the
// activation of a stream by its Requester (§6.3.5).
import { StanzaError } from "../../core/errors.ts";
import type { Send } from "../../core/capabilities.ts";
import type { Component } from "../../core/router.ts";
import { iqResult, serviceRequest } from "../../core/stanza.ts";
import { child, firstChildIn, xml, type Element } from "../../xml/element.ts";
import { tryParseJid, type JID } from "../../xml/jid.ts";
import { NS } from "../../xml/ns.ts";
import type { StreamTable } from "./streams.ts";

export const BYTESTREAMS = "http://jabber.org/protocol/bytestreams";

/** Who may use the proxy: accounts of this server, or any JID (other servers' users too). */
export type Access = "local" | "anyone";

export interface ProxyConfig {
  readonly jid: JID;
  readonly name: string;
  /** The address clients connect to, as <streamhost/> gives it (§4: an IP address or a domain name that resolves to the proxy). */
  readonly host: string;
  readonly port: number;
  readonly access: Access;
  /** The server's domain, whose accounts are "local". */
  readonly domain: string;
}

/** The activation request (§6.3.5): the stream's SID and the Target's JID. */
export interface Activation { sid: string; target: JID }

/** Reads <query sid='...'><activate>target</activate></query>; throws the stanza error for what is missing or malformed. */
export function parseActivation(query: Element): Activation {
  const sid = query.attrs.sid;
  if (sid === undefined || sid === "") throw new StanzaError("bad-request", "the query needs the stream's 'sid'");
  const activate = child(query, "activate");
  if (!activate) throw new StanzaError("bad-request", "an activation names the target in <activate/>");
  const text = activate.getText().trim();
  const target = tryParseJid(text);
  if (!target || target.domain === "") throw new StanzaError("jid-malformed", "<activate/> holds the target's JID");
  return { sid, target };
}

export class ProxyService implements Component {
  private readonly config: ProxyConfig;
  private readonly send: Send;
  private readonly streams: StreamTable;

  constructor(config: ProxyConfig, send: Send, streams: StreamTable) {
    this.config = config;
    this.send = send;
    this.streams = streams;
  }

  async receive(stanza: Element, from: JID, to: JID): Promise<void> {
    const type = serviceRequest(stanza, to);
    if (type === undefined) return;
    const payload = firstChildIn(stanza);
    let result: Element | undefined;
    if (type === "get" && payload?.name === "query" && payload.attrs.xmlns === NS.discoInfo && payload.attrs.node === undefined) result = this.info();
    else if (type === "get" && payload?.name === "query" && payload.attrs.xmlns === NS.discoItems) result = xml("query", { xmlns: NS.discoItems });
    else if (type === "get" && payload?.name === "query" && payload.attrs.xmlns === BYTESTREAMS) result = this.streamhost(from);
    else if (type === "set" && payload?.name === "query" && payload.attrs.xmlns === BYTESTREAMS) this.activate(payload, from);
    else throw new StanzaError("service-unavailable");
    const reply = iqResult(stanza, result);
    reply.attrs.from = this.config.jid.toString();
    reply.attrs.to = from.toString();
    await this.send(reply);
  }

  private info(): Element {
    return xml("query", { xmlns: NS.discoInfo },
      xml("identity", { category: "proxy", type: "bytestreams", name: this.config.name }),
      xml("feature", { var: NS.discoInfo }),
      xml("feature", { var: NS.discoItems }),
      xml("feature", { var: BYTESTREAMS }));
  }

  /** §4: the proxy's network address, for those allowed to use it (others: forbidden). */
  private streamhost(from: JID): Element {
    this.check(from);
    const { jid, host, port } = this.config;
    return xml("query", { xmlns: BYTESTREAMS }, xml("streamhost", { jid: jid.toString(), host, port: String(port) }));
  }

  /** §6.3.5: the stream whose hash is SHA-1(SID + the sender's full JID + Target) starts. */
  private activate(query: Element, from: JID): void {
    this.check(from);
    const { sid, target } = parseActivation(query);
    this.streams.activate(from, sid, target);
  }

  /** §4: "If the Requester does not have permissions to initiate bytestreams on the Proxy ... the Proxy MUST return a <forbidden/> error". */
  private check(from: JID): void {
    if (this.config.access === "anyone") return;
    if (from.local === "" || from.domain !== this.config.domain) throw new StanzaError("forbidden", "the proxy is for this server's accounts");
  }
}
