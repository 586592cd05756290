// Minimal types for @xmpp/client, the independent client library the integration tests use.
declare module "@xmpp/client" {
  import type { Element } from "ltx";
  export interface Client {
    start(): Promise<{ toString(): string }>;
    stop(): Promise<void>;
    send(...el: Element[]): Promise<void>;
    /** "element": every top-level element (stream features and errors too); "stanza": iq, message, presence; "nonza": the rest. */
    on(event: "stanza" | "element" | "nonza", fn: (el: Element) => void): void;
    on(event: "online", fn: (jid: { toString(): string }) => void): void;
    on(event: "error" | "offline" | "status", fn: (arg: unknown) => void): void;
    iqCaller: { request(el: Element, timeout?: number): Promise<Element>; get(el: Element, to?: string, timeout?: number): Promise<Element>; set(el: Element, to?: string, timeout?: number): Promise<Element> };
    /** The reconnect plugin; stop() turns automatic reconnection off. */
    reconnect: { stop(): void };
    jid: { toString(): string } | null;
    /** FAST (XEP-0484): where the client keeps its token; replace saveToken and fetchToken to keep it elsewhere. */
    fast: { saveToken(token: FastToken): Promise<void>; fetchToken(): Promise<FastToken | undefined> };
  }
  export interface FastToken { mechanism: string; token: string; expiry: string }
  export function client(opts: { service: string; domain?: string; username?: string; password?: string; resource?: string; userAgent?: Element }): Client;
  export function xml(name: string, attrs?: Record<string, string | undefined> | null, ...children: (Element | string)[]): Element;
}
