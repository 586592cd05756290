// Types for the parts of ltx (the element tree @xmpp/xml builds on) that the server uses.
declare module "ltx" {
  export type Node = Element | string;
  export class Element {
    constructor(name: string, attrs?: Record<string, string | number | undefined> | string);
    name: string;
    attrs: Record<string, string>;
    children: Node[];
    parent: Element | null;
    is(name: string, xmlns?: string): boolean;
    getName(): string;
    getNS(): string | undefined;
    /** The namespace bound to `prefix` (the default one without it), looked up through the ancestors. */
    findNS(prefix?: string): string | undefined;
    getAttr(name: string, xmlns?: string): string | undefined;
    getChild(name: string, xmlns?: string): Element | undefined;
    getChildren(name: string, xmlns?: string): Element[];
    getChildElements(): Element[];
    getText(): string;
    getChildText(name: string, xmlns?: string): string | null;
    c(name: string, attrs?: Record<string, string | number | undefined>): Element;
    cnode<T extends Element>(child: T): T;
    t(text: string): this;
    up(): Element;
    root(): Element;
    append(...nodes: Node[]): void;
    remove(el: Element | string, xmlns?: string): this;
    text(val?: string): string;
    attr(name: string, val?: string): string | undefined;
    toString(): string;
    /** Serialises through `writer`, piece by piece (toString is built on it). */
    write(writer: (s: string) => void): void;
  }
  export function createElement(
    name: string,
    attrs?: Record<string, string | number | undefined> | null,
    ...children: (Node | Node[] | undefined | null | false)[]
  ): Element;
  export function clone<T extends Node>(node: T): T;
  export function escapeXML(s: string): string;
  export function escapeXMLText(s: string): string;
  export function unescapeXML(s: string): string;
  export function unescapeXMLText(s: string): string;
  /** ltx's own parser (the tests read what the server wrote with it, independently of ours). */
  export function parse(text: string): Element;
}
