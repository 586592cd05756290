// The router: RFC 6120 §10 (server rules for processing XML stanzas) and RFC 6121 §8 (delivery
// rules for message, presence and iq to bare and full JIDs). Protocol policy lives in modules,
// which take stanzas through the typed hooks; what is left here is the default delivery.
import { randomUUID } from "node:crypto";
import type { Element } from "../xml/element.ts";
import { type JID, tryParseJid } from "../xml/jid.ts";
import { Durability, type Routed, SETTLED } from "./durability.ts";
import { StanzaError, stanzaErrorOf } from "./errors.ts";
import type { Events, MessageDelivery, StanzaEvent } from "./events.ts";
import { IqTable, type IqRequest } from "./iq.ts";
import type { Logger } from "./log.ts";
import { type SessionDirectory, type Session, isAvailable } from "./session.ts";
import { errorReply, iqResult, kindOf, toStanzaError } from "./stanza.ts";
import { kindSlot, Telemetry } from "./telemetry.ts";
import { SpaceWait } from "./space-wait.ts";
import { StorageFullError } from "../storage/errors.ts";

/** Where stanzas for other domains go. Federation (S2S) implements it; the default refuses. */
export interface RemoteRoute {
  send(stanza: Element, domain: string): Promise<void>;
}

/** A component owns a subdomain (e.g. conference.example.com) and takes every stanza to it. */
export interface Component {
  /**
   * A service connected from outside (an external component, XEP-0114): to the server's users its
   * addresses are entities of their own, as another server's are (Router.foreign).
   */
  readonly external?: boolean;
  /** `durability`: as StanzaEvent.durability, where the writes the sender's ack waits for go (a room's archive). */
  receive(stanza: Element, from: JID, to: JID, origin: Session | undefined, durability: Durability | undefined): Promise<void>;
}

/** The domains the server hosts (virtual hosts, core/hosts.ts) and their accounts. */
export interface HostDirectory {
  /** Whether `domain` is one of the server's own (its accounts' domain), not a service's or another server's. */
  has(domain: string): boolean;
  /** Whether the bare JID is an account of a hosted domain. */
  exists(account: JID): Promise<boolean>;
}

/** The accounts of targets exist: a recipient with sessions is not looked up. */
const EXISTS = (): Promise<boolean> => YES;
const YES = Promise.resolve(true);

const noRemote: RemoteRoute = {
  async send() {
    throw new StanzaError("remote-server-not-found");
  },
};

interface Pending { resolve(el: Element): void; reject(e: Error): void; timer: NodeJS.Timeout }

export class Router {
  readonly iq = new IqTable();
  remote: RemoteRoute = noRemote;
  private readonly components = new Map<string, Component>();
  private readonly pending = new Map<string, Pending>();
  /** Messages the storage refused for lack of space, held until it takes them: 1,000 in the process, 100 of one account. */
  private readonly spaceWait = new SpaceWait({ process: 1000, account: 100 });
  /** When a refusal for lack of space was last logged (once a minute is enough). */
  private fullLogged = 0;

  readonly domain: JID;
  private readonly sessions: SessionDirectory;
  private readonly events: Events;
  private readonly hosts: HostDirectory;
  private readonly log: Logger;
  private readonly telemetry: Telemetry;

  /** `domain`: the configuration's, the 'from' of what the server sends for no host in particular. */
  constructor(domain: JID, sessions: SessionDirectory, events: Events, hosts: HostDirectory, log: Logger, telemetry = new Telemetry()) {
    this.domain = domain;
    this.sessions = sessions;
    this.events = events;
    this.hosts = hosts;
    this.log = log;
    this.telemetry = telemetry;
  }

  /** Whether this server hosts `domain`: one of its own (virtual hosts), or a component's (the MUC service, pubsub, upload). */
  serves(domain: string): boolean {
    return this.hosts.has(domain) || this.components.has(domain);
  }

  /**
   * Whether a domain's addresses are entities of their own to this server's users, as contacts on
   * another server are: a remote domain, or an external component's. Not the server's own domains
   * nor its modules' services (rooms, pubsub), which keep presence rules of their own.
   */
  foreign(domain: string): boolean {
    if (this.hosts.has(domain)) return false;
    const component = this.components.get(domain);
    return component === undefined || component.external === true;
  }

  addComponent(domain: string, component: Component): () => void {
    this.components.set(domain, component);
    return () => this.components.delete(domain);
  }

  /**
   * Routes a stanza whose 'from' is already stamped (by the stream, or by the server itself).
   * Never throws: a failure becomes the error reply for the sender. Resolves once the stanza is
   * delivered, stored or refused; writes its handlers left running are waited for by no one.
   */
  async route(stanza: Element, origin?: Session): Promise<void> {
    await this.run(stanza, origin, undefined, false);
  }

  /**
   * As route, for a stanza of a sender without stream management: resolves once it is delivered,
   * stored or refused, to the store writes left running for it (mayDefer). Its stream answers the
   * sender's next request after them, so that an answer still tells the sender that everything
   * it sent before is stored (a ping after a burst of messages to someone offline).
   */
  async routeUnacked(stanza: Element, origin: Session): Promise<Routed> {
    const durability = new Durability(false);
    await this.run(stanza, origin, durability, false);
    const durable = durability.settled();
    return durable === undefined ? SETTLED : { durable };
  }

  /**
   * As route, for a stanza its sender acknowledges (XEP-0198 h): resolves once it is delivered,
   * stored or refused, to the writes left running for it that the acknowledgement waits for.
   */
  async routeAcked(stanza: Element, origin: Session): Promise<Routed> {
    // Behind messages of the sender that wait for storage space, in order (space-wait.ts).
    if (this.spaceWait.size > 0 && stanza.name === "message" && this.spaceWait.holding(origin.jid.bare.toString())) {
      return { durable: this.holdForSpace(stanza, origin, false) };
    }
    const durability = new Durability();
    const full = await this.run(stanza, origin, durability, false);
    const durable = durability.settled();
    if (full && stanza.name === "message") {
      // Refused (resource-constraint went back) and held; the ack waits for the store to take it.
      const held = this.holdForSpace(stanza, origin, true);
      return { durable: durable === undefined ? held : Promise.all([durable, held]).then(() => {}) };
    }
    return durable === undefined ? SETTLED : { durable };
  }

  /**
   * Holds a message until the store has room for it (space-wait.ts): resolves once it is routed
   * and its writes have settled; rejects when it is given up, unacknowledged. A message routed
   * once already goes again as returned (StanzaEvent.returned), without its sender's steps
   * ("stanza/out": the sender's archive, carbons), which it went through the first time.
   */
  private holdForSpace(stanza: Element, origin: Session, refused: boolean): Promise<void> {
    let routed = refused;
    let bounced = refused;
    const attempt = async (): Promise<"full" | "done"> => {
      const again = routed;
      routed = true;
      const durability = new Durability();
      try {
        await this.dispatch(stanza, again ? undefined : origin, durability, again);
      } catch (e) {
        const full = e instanceof StorageFullError;
        if (full && bounced) return "full";
        bounced = true;
        this.failed(stanza, e, origin);
        return full ? "full" : "done";
      }
      await durability.settled();
      return "done";
    };
    return this.spaceWait.hold(origin.jid.bare.toString(), refused, attempt, () => this.sessions.get(origin.jid) === origin);
  }

  /**
   * Whether a handler may leave a message's store write running, the sender's acknowledgement
   * waiting for it (Durability.require), rather than routing waiting for it: a sender's stream
   * routes its stanzas one after the other, so writes awaited in routing take a commit each
   * where writes left running share one (group commit). Only for a stanza routed for the first
   * time from a local stream (routeAcked, routeUnacked), while no sender waits for storage space
   * (then the write is awaited, and a refusal takes the path of routeAcked).
   */
  mayDefer(ev: StanzaEvent): boolean {
    return ev.durability !== undefined && ev.origin !== undefined && ev.returned !== true && this.spaceWait.size === 0;
  }

  /**
   * A write left running (mayDefer) failed: as if routing had thrown the error. Refused for lack
   * of space, the message is held until the store takes it (space-wait.ts) and the acknowledgement
   * waits for that; otherwise the sender gets the error.
   */
  deferredFailed(ev: StanzaEvent, e: unknown): Promise<void> {
    this.failed(ev.stanza, e, ev.origin);
    // Held only for a sender that acknowledges (routeAcked does the same); others have their error.
    if (e instanceof StorageFullError && ev.origin !== undefined && ev.durability?.acknowledged === true) return this.holdForSpace(ev.stanza, ev.origin, true);
    return Promise.resolve();
  }

  /**
   * Routes again a message a session was written but never acknowledged ("message/undelivered"),
   * the session no longer registered. Its stanza-id is the server's own: the archive keeps it and
   * does not record the message twice (StanzaEvent.returned). Refused for lack of space, it is
   * held until the store takes it (space-wait.ts).
   */
  async reroute(stanza: Element): Promise<void> {
    try {
      await this.dispatch(stanza, undefined, undefined, true);
    } catch (e) {
      if (!(e instanceof StorageFullError)) return this.failed(stanza, e, undefined);
      // The store (offline) has no room: the message waits in memory for it, as the recipient's,
      // and bounces only when given up.
      const attempt = async (): Promise<"full" | "done"> => {
        try {
          await this.dispatch(stanza, undefined, undefined, true);
        } catch (again) {
          if (again instanceof StorageFullError) return "full";
          this.failed(stanza, again, undefined);
        }
        return "done";
      };
      const recipient = tryParseJid(stanza.attrs.to ?? "")?.bare.toString() ?? "";
      void this.spaceWait.hold(recipient, true, attempt, () => true).catch(() => this.failed(stanza, e, undefined));
    }
  }

  /** Dispatches; a failure becomes the sender's error reply. True when the store refused a write for lack of space. */
  private async run(stanza: Element, origin: Session | undefined, durability: Durability | undefined, returned: boolean): Promise<boolean> {
    try {
      await this.dispatch(stanza, origin, durability, returned);
      return false;
    } catch (e) {
      this.failed(stanza, e, origin);
      return e instanceof StorageFullError;
    }
  }

  /** The error reply for a stanza that failed, logged unless it is an XMPP error (a full store: once a minute). */
  private failed(stanza: Element, e: unknown, origin: Session | undefined): void {
    if (e instanceof StorageFullError) {
      if (Date.now() - this.fullLogged > 60_000) {
        this.fullLogged = Date.now();
        this.log.error({ err: e, held: this.spaceWait.size }, "storage is full: writes are refused (resource-constraint) until space returns");
      }
    } else if (!(e instanceof StanzaError)) this.log.error({ err: e, stanza: stanza.name }, "stanza handler failed");
    this.bounce(stanza, toStanzaError(e), origin);
  }

  /** Sends the error reply for a stanza back to its sender (never for an error stanza). */
  bounce(stanza: Element, err: StanzaError, origin?: Session): void {
    const reply = errorReply(stanza, err);
    if (!reply) return;
    // A stanza without 'to' was for the sender's own account (RFC 6120 §10.3.3): its error, like
    // its result, comes from no one else; anything else unaddressed comes from the domain.
    if (!reply.attrs.from && !(origin && stanza.attrs.to === undefined)) reply.attrs.from = this.domain.toString();
    if (origin && (!stanza.attrs.from || stanza.attrs.from === origin.jid.toString())) origin.send(reply);
    else void this.route(reply);
  }

  /** Sends an iq from the server and waits for its result (or rejects with the error / timeout). */
  request(iq: Element, timeoutMs: number): Promise<Element> {
    const id = iq.attrs.id ?? (iq.attrs.id = randomUUID());
    iq.attrs.from ??= this.domain.toString();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new StanzaError("remote-server-timeout"));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      void this.route(iq);
    });
  }

  private async dispatch(stanza: Element, origin: Session | undefined, durability: Durability | undefined, returned: boolean): Promise<void> {
    const kind = kindOf(stanza);
    if (!kind) throw new StanzaError("bad-request", "not a stanza");
    const from = origin?.jid ?? tryParseJid(stanza.attrs.from ?? "") ?? this.domain;
    if (origin !== undefined) this.telemetry.stanzasIn[kindSlot(kind)]!++;
    let to: JID;
    if (stanza.attrs.to === undefined || stanza.attrs.to === "") {
      // RFC 6120 §10.3: no 'to' means the sender's own account (presence without 'to' is a broadcast).
      if (kind === "presence" && origin) {
        await this.events.handle("presence/broadcast", { stanza, from, to: from.bare, origin });
        return;
      }
      to = from.bare;
    } else {
      const parsed = tryParseJid(stanza.attrs.to);
      if (!parsed) throw new StanzaError("jid-malformed");
      to = parsed;
    }
    if (kind === "iq" && !this.validIq(stanza)) throw new StanzaError("bad-request", "an iq needs an id, a type and (get/set) exactly one payload");

    const timedAt = kind === "message" ? this.telemetry.sampleStart() : 0;
    const ev: StanzaEvent = returned ? { stanza, from, to, origin, durability, returned, timedAt } : { stanza, from, to, origin, durability, timedAt };
    if (origin && (await this.events.handle("stanza/out", ev))) return;
    // Any hosted domain is delivered here, to its accounts: never a stream to ourselves.
    if (!this.hosts.has(to.domain)) {
      const component = this.components.get(to.domain);
      if (component) return component.receive(stanza, from, to, origin, durability);
      return this.remote.send(stanza, to.domain);
    }
    if (to.local === "") return this.toHost(kind, ev);
    const cleaned = this.events.handleNow("stanza/clean", ev);
    if (cleaned === true || (cleaned !== false && (await cleaned))) return;
    if (await this.events.handle("stanza/in", ev)) return;
    if (to.resource === "") return this.toBare(kind, ev);
    return this.toFull(kind, ev);
  }

  private validIq(iq: Element): boolean {
    const { id, type } = iq.attrs;
    if (!id) return false;
    if (type === "get" || type === "set") {
      let elements = 0;
      for (const c of iq.children) if (typeof c !== "string" && ++elements > 1) return false;
      return elements === 1;
    }
    return type === "result" || type === "error";
  }

  private async toHost(kind: "message" | "presence" | "iq", ev: StanzaEvent): Promise<void> {
    if (kind === "iq") return this.iqTo("host", ev);
    if (await this.events.handle(kind === "message" ? "message/host" : "presence/host", ev)) return;
    // RFC 6121 §8.5.1 style: the server itself has no use for this stanza.
    if (kind === "message") throw new StanzaError("service-unavailable");
  }

  private async iqTo(target: "host" | "account", ev: StanzaEvent): Promise<void> {
    const { stanza } = ev;
    const type = stanza.attrs.type;
    if (type === "result" || type === "error") {
      if (target === "host") this.settle(stanza);
      return;
    }
    const payload = stanza.children.find((c) => typeof c !== "string") as Element;
    const handlers = this.iq.find(target, payload);
    const handler = type === "get" ? handlers?.get : handlers?.set;
    if (!handler) {
      if (target === "account" && (await this.events.handle("iq/bare", ev))) return;
      throw new StanzaError(handlers ? "bad-request" : "service-unavailable");
    }
    const req: IqRequest = { stanza, payload, type: type as "get" | "set", from: ev.from, to: ev.to, origin: ev.origin };
    const result = await handler(req);
    const reply = iqResult(stanza, result ?? undefined);
    reply.attrs.to = ev.from.toString();
    if (stanza.attrs.to) reply.attrs.from = stanza.attrs.to;
    else delete reply.attrs.from;
    this.reply(reply, ev.origin);
  }

  private settle(response: Element): void {
    const id = response.attrs.id ?? "";
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    clearTimeout(p.timer);
    if (response.attrs.type === "result") p.resolve(response);
    else p.reject(stanzaErrorOf(response));
  }

  private reply(reply: Element, origin: Session | undefined): void {
    if (origin && reply.attrs.to === origin.jid.toString()) origin.send(reply);
    else void this.route(reply);
  }

  private async toBare(kind: "message" | "presence" | "iq", ev: StanzaEvent): Promise<void> {
    if (kind === "iq") {
      if (!(await this.accountExists(ev.to))) throw new StanzaError("service-unavailable");
      return this.iqTo("account", ev);
    }
    if (kind === "message") {
      if (await this.events.handle("message/bare", ev)) return;
      return this.deliverMessage(ev, undefined);
    }
    if (await this.events.handle("presence/bare", ev)) return;
    // Directed presence to a bare JID reaches every available resource (RFC 6121 §8.5.2.1.1).
    for (const s of this.sessions.of(ev.to)) if (isAvailable(s)) s.send(ev.stanza);
  }

  /**
   * Delivers a message to a bare JID's every available resource of non-negative priority, as
   * headlines go: RFC 6121 §8.5.2.1.1 lets a chat message go to all of them instead of the "most
   * available" ones. For what every device must see at once, whatever its priority: a call
   * ringing (XEP-0353). Otherwise the steps of any message (archive, carbons, offline store).
   */
  deliverToAll(ev: StanzaEvent): Promise<void> {
    return this.deliverMessage(ev, undefined, true);
  }

  /**
   * Delivers a message to a local account: to `session` when it was addressed to that full JID,
   * else by RFC 6121 §8.5.2 (normal/chat to the available resources of highest non-negative
   * priority, or all of them when `all`; headline to all of them, groupchat refused, errors
   * dropped). The hooks around the write are where the archive stamps its id, carbons copy and
   * the offline store takes what no session took; with none of them loaded a message for an
   * account that is offline bounces.
   * Resolves once the message is written to its sessions or stored; writes left running (the
   * archive) are in ev.durability, which the sender's stream waits for before it acks.
   */
  private async deliverMessage(ev: StanzaEvent, session: Session | undefined, all = false): Promise<void> {
    const type = ev.stanza.attrs.type ?? "normal";
    if (!session) {
      if (type === "error") return;
      if (type === "groupchat") throw new StanzaError("service-unavailable");
    }
    const targets = session ? [session] : this.messageTargets(ev.to, all || type === "headline");
    const d: MessageDelivery = { ...ev, targets, accountExists: targets.length > 0 ? EXISTS : this.existence(ev.to) };
    if (await this.events.handle("message/deliver", d)) return;
    if (targets.length > 0 && (await this.writeMessage(d))) return;
    if (type === "headline") return;
    if (await this.events.handle("message/offline", targets.length > 0 ? { ...d, targets: [] } : d)) return;
    if (!(await d.accountExists())) throw new StanzaError("service-unavailable");
    throw new StanzaError("service-unavailable", "the recipient is offline");
  }

  /**
   * The one write of a message to its targets (the router's delivery, and the offline store's
   * when a session can take it by now): true when some session took it, and then
   * "message/delivered" has been told. A session of this node always takes it (a detached one
   * queues it); one of another cluster node only once its node says so, which is waited for
   * only when no session of this node took it. When none took it, it is as if there had been
   * no targets (the cluster forgot those sessions).
   */
  async writeMessage(d: MessageDelivery): Promise<boolean> {
    if (d.targets.length === 0) return false;
    let remote: Promise<boolean>[] | undefined;
    for (const s of d.targets) {
      if (s.deliver === undefined) s.send(d.stanza);
      else (remote ??= []).push(s.deliver(d.stanza));
    }
    // Timed to the write on this node; one only another node's session takes is not timed.
    if (d.timedAt !== undefined && d.timedAt !== 0 && remote === undefined) this.telemetry.delivered(d.timedAt);
    if (remote !== undefined && remote.length === d.targets.length && !(await Promise.all(remote)).includes(true)) return false;
    await this.events.notify("message/delivered", d, (e) => this.log.error({ err: e }, "message/delivered listener failed"));
    return true;
  }

  /**
   * A stanza a session was sent but never acknowledged before it ended (XEP-0198 §4), the session
   * no longer registered. Messages go through "message/undelivered" (the offline store, the
   * archive), else bounce to their sender; an iq request bounces so that its sender does not wait
   * forever; presence is dropped (the contact's next probe states it again).
   */
  async undelivered(stanza: Element, session: Session): Promise<void> {
    const type = stanza.attrs.type;
    if (stanza.name === "message") {
      if (await this.events.handle("message/undelivered", { stanza, session })) return;
      if (type === "error" || type === "groupchat" || type === "headline") return;
      if (stanza.attrs.from === session.jid.bare.toString()) return; // a carbon copy: the original went elsewhere
      this.bounce(stanza, new StanzaError("recipient-unavailable"));
    } else if (stanza.name === "iq" && (type === "get" || type === "set")) {
      this.bounce(stanza, new StanzaError("service-unavailable"));
    }
  }

  /** The sessions a message to a bare JID reaches (all non-negative ones, or the top priority), none that is full. */
  messageTargets(bare: JID, all: boolean): Session[] {
    let best = -1;
    let out: Session[] = [];
    for (const s of this.sessions.of(bare)) {
      if (!isAvailable(s) || s.priority < 0 || s.full === true) continue;
      if (all) out.push(s);
      else if (s.priority > best) {
        best = s.priority;
        out = [s];
      } else if (s.priority === best) out.push(s);
    }
    return out;
  }

  private async toFull(kind: "message" | "presence" | "iq", ev: StanzaEvent): Promise<void> {
    if (await this.events.handle(`${kind}/full` as const, ev)) return;
    const session = this.sessions.get(ev.to);
    // A session waiting to be resumed with a full queue takes no message: as if it were not there.
    if (session && !(kind === "message" && session.full === true)) {
      if (kind === "message") return this.deliverMessage(ev, session);
      session.send(ev.stanza);
      return;
    }
    const type = ev.stanza.attrs.type;
    if (kind === "iq") {
      if (type === "result" || type === "error") return;
      throw new StanzaError("service-unavailable");
    }
    if (kind === "message") {
      // RFC 6121 §8.5.3.2.1: chat and normal fall back to the bare JID; groupchat bounces.
      if (type === "groupchat") throw new StanzaError("service-unavailable");
      if (type === "headline" || type === "error") return;
      return this.toBare("message", { ...ev, to: ev.to.bare });
    }
    // RFC 6121 §8.5.3.2.2: subscription-related presence is handled as if sent to the bare JID.
    if (type === "subscribe" || type === "subscribed" || type === "unsubscribe" || type === "unsubscribed") {
      return this.toBare("presence", { ...ev, to: ev.to.bare });
    }
  }

  private async accountExists(bare: JID): Promise<boolean> {
    return this.sessions.of(bare).length > 0 || (await this.hosts.exists(bare));
  }

  /** A message's MessageDelivery.accountExists: asked of the accounts at most once, when first called. */
  private existence(bare: JID): () => Promise<boolean> {
    let known: Promise<boolean> | undefined;
    return () => (known ??= this.accountExists(bare));
  }
}
