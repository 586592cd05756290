// The iq handler table (RFC 6120 §8.2.3). Handlers register by (target, namespace, element name)
// and return the result payload, or throw a StanzaError; the router builds the reply.
import type { Element } from "../xml/element.ts";
import type { JID } from "../xml/jid.ts";
import type { Session } from "./session.ts";

export interface IqRequest {
  readonly stanza: Element;
  /** The single child element of the request. */
  readonly payload: Element;
  readonly type: "get" | "set";
  readonly from: JID;
  readonly to: JID;
  readonly origin: Session | undefined;
}

export type IqHandler = (req: IqRequest) => Element | undefined | void | Promise<Element | undefined | void>;
export interface IqHandlers { get?: IqHandler; set?: IqHandler }

/** "host": addressed to the server's domain. "account": to a local account's bare JID (or no 'to'). */
export type IqTarget = "host" | "account";

export class IqTable {
  private readonly tables: Record<IqTarget, Map<string, Map<string, IqHandlers>>> = { host: new Map(), account: new Map() };

  add(target: IqTarget, ns: string, name: string, handlers: IqHandlers): () => void {
    const byNs = this.tables[target];
    let byName = byNs.get(ns);
    if (!byName) byNs.set(ns, (byName = new Map()));
    if (byName.has(name)) throw new Error(`iq handler for ${target} {${ns}}${name} registered twice`);
    byName.set(name, handlers);
    return () => {
      byName.delete(name);
    };
  }

  find(target: IqTarget, payload: Element): IqHandlers | undefined {
    return this.tables[target].get(payload.attrs.xmlns ?? "")?.get(payload.name);
  }
}
