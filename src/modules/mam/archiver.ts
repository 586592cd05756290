// Recording messages in archives (XEP-0313 §3, §6.1.1) with their XEP-0359 stanza-ids. The
// recipient's archive is written as a message is delivered: forged ids are removed, and an
// archived message gets the archive's id before any copy of it leaves. The sender's archive gets
// a copy under its own id, and the routed stanza is not changed (§3.5: the sender's id "MUST
// NOT" reach the recipient). A message to oneself is archived once, as received. Writes only
// enter the queue: delivery waits for room in it, never for the store.
import { clone, type Element } from "../../xml/element.ts";
import type { JID } from "../../xml/jid.ts";
import { serializeDetached } from "../../xml/stored.ts";
import type { MessageDelivery, StanzaEvent } from "../../core/events.ts";
import type { IdGenerator } from "../../storage/ids.ts";
import { archivable, hasForged, stanzaIdBy, stanzaIdElement, stripForged } from "./policy.ts";
import type { AccountPrefs } from "./prefs.ts";
import type { ArchiveQueue } from "../../storage/archive-queue.ts";

const DAY = 86_400_000;

export interface ArchiverDeps {
  queue: ArchiveQueue;
  prefs: AccountPrefs;
  ids: IdGenerator;
  /** Whether a domain is one the server hosts: stanza-ids by an account's host are never taken from outside either. */
  hosted(domain: string): boolean;
  /** Days an entry is kept; 0 archives nothing. */
  retention: number;
  /** Called when a push finds the queue full (back-pressure engages). */
  onFull(): void;
  /** Whether an account (bare JID) has more than one session, on any node. */
  hasOtherSessions(owner: JID): boolean;
}

type Pending = Promise<void> | undefined;

export class Archiver {
  private readonly deps: ArchiverDeps;
  /** The id each message being routed got in its sender's archive, for the sender's carbon copies (sentId). */
  private readonly sent = new WeakMap<Element, string>();

  constructor(deps: ArchiverDeps) {
    this.deps = deps;
  }

  /**
   * "message/deliver": the recipient's archive, before any copy leaves. A message that comes back
   * from a session that never acknowledged it (StanzaEvent.returned) keeps the stanza-id it was
   * given and is not archived twice: in a cluster the node that stamped it may be another one,
   * its write still in that node's queue, so neither this queue nor the store can vouch for it.
   * Anything else that carries one of this archive's ids is a forgery, removed in receive().
   */
  incoming(m: MessageDelivery): Pending {
    if (m.returned && stanzaIdBy(m.stanza, m.to.bare.toString()) !== undefined) return;
    return this.receive(m);
  }

  /** "stanza/out": a copy for the sender's archive; the routed stanza stays as it is. */
  outgoing(ev: StanzaEvent): Pending {
    if (this.deps.retention === 0 || ev.stanza.name !== "message" || !archivable(ev.stanza)) return;
    const owner = ev.from.bare;
    if (ev.to.bare.equals(owner)) return; // to oneself: archived once, as received
    if (ev.to.local === "" && this.deps.hosted(ev.to.domain)) return; // to the server itself
    const by = [owner.toString(), owner.domain];
    return this.when(this.deps.prefs.wanted(owner, ev.to), (now) => {
      let copy: Element = ev.stanza;
      if (hasForged(copy, by)) stripForged((copy = clone(copy)), by);
      const id = this.deps.ids.next();
      const wait = this.record(by[0]!, id, this.deps.ids.lastTime, ev.to.toString(), copy);
      // Kept for the sender's carbon copies (made by a handler after this one), which only a
      // sender with another session gets. Its sessions may change while this waits (for the
      // preferences, or for room in the queue): then it is kept in any case.
      if (!now || wait !== undefined || this.deps.hasOtherSessions(owner)) this.sent.set(ev.stanza, id);
      return wait;
    });
  }

  /**
   * The id the sender's archive gave a message it sent, once outgoing() has archived it (until the
   * message is dropped). XEP-0313 §3.4: the server "SHOULD include the element as a child of the
   * forwarded message when using Message Carbons".
   */
  sentId(stanza: Element): string | undefined {
    return this.sent.get(stanza);
  }

  private receive(m: MessageDelivery): Pending {
    const owner = m.to.bare;
    const by = [owner.toString(), owner.domain];
    if (hasForged(m.stanza, by)) stripForged(m.stanza, by);
    if (this.deps.retention === 0 || !archivable(m.stanza)) return;
    const archive = () => {
      const id = this.deps.ids.next();
      m.stanza.append(stanzaIdElement(by[0]!, id));
      return this.record(by[0]!, id, this.deps.ids.lastTime, m.from.toString(), m.stanza);
    };
    if (m.targets.length > 0) return this.when(this.deps.prefs.wanted(owner, m.from), archive);
    // Nobody to deliver to: the account may not exist (the router bounces then); nothing is archived for it.
    return m.accountExists().then((exists) => (exists ? this.when(this.deps.prefs.wanted(owner, m.from), archive) : undefined));
  }

  /**
   * Runs `then` if `yes`, synchronously when the answer is at hand (no tick between id and write;
   * `now` tells which).
   */
  private when(yes: boolean | Promise<boolean>, then: (now: boolean) => Pending): Pending {
    if (typeof yes === "boolean") return yes ? then(true) : undefined;
    return yes.then((y) => (y ? then(false) : undefined));
  }

  /** Queues an entry of `owner`'s archive; `at` is the time in its id. */
  private record(owner: string, id: string, at: number, withJid: string, message: Element): Pending {
    const wait = this.deps.queue.push({ owner, id, at, with: withJid, value: serializeDetached(message), expires: at + this.deps.retention * DAY });
    if (wait) this.deps.onFull();
    return wait;
  }
}
