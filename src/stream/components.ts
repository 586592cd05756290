// The external components (XEP-0114) the configuration allows, and which of them are connected.
// Each configured domain is the router's from start to stop, connected or not: stanzas to a
// component that is not connected bounce with service-unavailable (type wait: it may come back)
// instead of leaving for another server. A connected one is written to over its stream and listed
// in the server's disco#items (XEP-0030 §4.1: the server's services); it answers its own disco.
import type { Element } from "../xml/element.ts";
import type { JID } from "../xml/jid.ts";
import type { ComponentEntry } from "../core/config.ts";
import type { DiscoItem, DiscoRegistry } from "../core/disco.ts";
import { StanzaError, StreamError } from "../core/errors.ts";
import { ConfigError } from "../core/schema.ts";
import { Shapers, type ShaperLimits } from "../core/limits.ts";
import type { Component, Router } from "../core/router.ts";

/** What the registry needs of a component's stream. */
export interface ComponentLink {
  /** Writes a stanza routed to the component; false when the stream could not take it (it is ending). */
  deliver(stanza: Element, from: JID): boolean;
  close(error?: StreamError): void;
}

export type OnConflict = "refuse" | "replace";

/** The router's Component for one configured domain: its stream's, while one is connected. */
class ExternalComponent implements Component {
  readonly external = true;
  link: ComponentLink | undefined = undefined;
  readonly item: DiscoItem;

  constructor(domain: string) {
    this.item = { jid: domain };
  }

  receive(stanza: Element, from: JID): Promise<void> {
    if (this.link?.deliver(stanza, from)) return DONE;
    // Nothing answers an error or a result; the rest learns that the component is away for now.
    const type = stanza.attrs.type;
    if (type === "error" || (stanza.name === "iq" && type === "result")) return DONE;
    return Promise.reject(new StanzaError("service-unavailable", "the component is not connected", { type: "wait" }));
  }
}

const DONE = Promise.resolve();

export class ExternalComponents {
  /** The input shapers of connected components, one key per domain. */
  readonly shapers: Shapers;
  private readonly secrets: Map<string, string>;
  private readonly onConflict: OnConflict;
  private readonly router: Pick<Router, "addComponent" | "serves">;
  private readonly disco: Pick<DiscoRegistry, "items">;
  private readonly byDomain = new Map<string, ExternalComponent>();
  private readonly removals: (() => void)[] = [];

  constructor(entries: readonly ComponentEntry[], onConflict: OnConflict, shaping: ShaperLimits,
    router: Pick<Router, "addComponent" | "serves">, disco: Pick<DiscoRegistry, "items">) {
    this.secrets = new Map(entries.map((c) => [c.domain, c.secret]));
    this.onConflict = onConflict;
    this.shapers = new Shapers(shaping);
    this.router = router;
    this.disco = disco;
  }

  /** Whether any component is configured (the listener opens only then). */
  get configured(): boolean {
    return this.secrets.size > 0;
  }

  /** The secret of a configured domain; undefined for any other. */
  secret(domain: string): string | undefined {
    return this.secrets.get(domain);
  }

  /** The domains connected now. */
  connected(): string[] {
    return [...this.byDomain].filter(([, c]) => c.link !== undefined).map(([d]) => d);
  }

  /** Takes every configured domain in the router: after the modules, whose services' domains the configuration check kept apart. */
  start(): void {
    for (const domain of this.secrets.keys()) {
      if (this.router.serves(domain)) throw new ConfigError(`components: ${domain} is served already`);
      const c = new ExternalComponent(domain);
      this.byDomain.set(domain, c);
      this.removals.push(this.router.addComponent(domain, c));
    }
  }

  stop(): void {
    for (const c of this.byDomain.values()) this.detach(c);
    while (this.removals.length) this.removals.pop()!();
    this.byDomain.clear();
  }

  /**
   * A stream that completed the handshake for `domain` takes it. With another connected: `refuse`
   * throws conflict (for the new stream to close with), `replace` closes the old one with it.
   */
  attach(domain: string, link: ComponentLink): void {
    const c = this.byDomain.get(domain);
    if (!c) throw new StreamError("host-unknown", `no component ${domain} is configured`);
    const old = c.link;
    if (old) {
      if (this.onConflict === "refuse") throw new StreamError("conflict", `a component is connected for ${domain} already`);
      this.detach(c);
      old.close(new StreamError("conflict", "replaced by a new connection of the component"));
    }
    c.link = link;
    this.disco.items.push(c.item);
  }

  /** The stream of `domain` ended: stanzas to it bounce until it connects again. */
  release(domain: string, link: ComponentLink): void {
    const c = this.byDomain.get(domain);
    if (c?.link === link) this.detach(c);
  }

  private detach(c: ExternalComponent): void {
    if (!c.link) return;
    c.link = undefined;
    const items = this.disco.items;
    const i = items.indexOf(c.item);
    if (i >= 0) items.splice(i, 1);
  }
}
