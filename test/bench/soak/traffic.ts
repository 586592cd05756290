// The soak's traffic: users of two kinds on one server, each on a session with stream management
// (lib/sm.ts). Steady users stay for the whole run, sit in a few MUC rooms (XEP-0045) and have
// their TCP connection cut now and then, resuming on a new one (XEP-0198 §5); churners log in and
// out. Partners (users 2k and 2k+1) are each other's roster contacts and chat, one message in
// two to the full JID and one to the bare JID (RFC 6121 §8.5). At a steady rate the generator
// sends chat and room messages, presence changes (RFC 6121 §4.4) and roster sets (§2.4).
// Nobody writes to a churner that is not online, and a churner leaves only once what was sent to
// it has arrived, so every message must arrive exactly once, in order (ledger.ts).
import type { Element } from "../../../src/xml/element.ts";
import type { Target } from "../lib/conn.ts";
import { SmSession } from "../lib/sm.ts";
import { sleep } from "../lib/stats.ts";
import type { Ledger } from "./ledger.ts";

const MUC = "http://jabber.org/protocol/muc";
const SHOWS = ["", "away", "chat", "dnd", "xa"];

/** A wait for a stanza: true when it matched (and is done). */
type Waiter = (el: Element) => boolean;

type State = "offline" | "joining" | "online" | "cut" | "leaving";
const STATES: readonly State[] = ["offline", "joining", "online", "cut", "leaving"];

/** A chat message's trace note as one number (ledger.ts keeps millions): addressing, both users' states, the sender's unacked count. */
function noteCode(full: boolean, sender: State, unacked: number, receiver: State): number {
  return ((full ? 1 : 0) | (STATES.indexOf(sender) << 1) | (STATES.indexOf(receiver) << 4) | (Math.min(unacked, 0x1ffffff) << 7)) >>> 0;
}

/** The words of a note (noteCode) of the stream `key`; room messages have none. */
export function describeNote(key: string, code: number): string {
  if (!key.startsWith("c ")) return "";
  return `to ${code & 1 ? "full" : "bare"}, sender ${STATES[(code >> 1) & 7]} (unacked ${code >>> 7}), receiver ${STATES[(code >> 4) & 7]}`;
}

export interface User {
  readonly index: number;
  readonly name: string;
  readonly bare: string;
  readonly steady: boolean;
  readonly partner: number;
  /** The room a steady user sits in. */
  readonly room?: string;
  session: SmSession;
  state: State;
}

export interface TrafficOptions {
  target: Target;
  password: string;
  /** Account names by index (they exist on the server). */
  user(i: number): string;
  users: number;
  rooms: number;
  random(): number;
  log(line: string): void;
  /** Keeps a line for each cut, resumption, login and logout (events), to trace a lost message. */
  trace?: boolean;
}

/** What happened so far (the sampler takes differences). */
export interface Counts {
  stanzasSent: number;
  stanzasReceived: number;
  logins: number;
  logouts: number;
  cuts: number;
  resumes: number;
  resent: number;
  /** Failed resumptions, logins, roster sets, error stanzas: each one is a failure of the run. */
  failures: number;
}

export class Traffic {
  readonly users: User[] = [];
  readonly counts: Counts = { stanzasSent: 0, stanzasReceived: 0, logins: 0, logouts: 0, cuts: 0, resumes: 0, resent: 0, failures: 0 };
  readonly failureNotes: string[] = [];
  private readonly occupants = new Map<string, string[]>();
  private readonly o: TrafficOptions;
  private readonly ledger: Ledger;
  private readonly waiters = new Map<User, Waiter[]>();
  private busy = 0;
  private iqs = 0;
  /** When tracing: "<ms> <user> <what>" for each session event, in order. */
  readonly events: string[] = [];

  constructor(o: TrafficOptions, ledger: Ledger) {
    this.o = o;
    this.ledger = ledger;
    ledger.wasHeld = (from, me, at) => this.held(from, at) || this.held(me, at);
    const domain = o.target.domain;
    for (let i = 0; i < o.users; i++) {
      const name = o.user(i);
      // One pair in two is two steady users; in the other, the second is a churner.
      const steady = i % 4 !== 3;
      const room = steady ? `soak${i % o.rooms}@${o.target.mucDomain}` : undefined;
      const u: User = { index: i, name, bare: `${name}@${domain}`, steady, partner: i ^ 1, ...(room ? { room } : {}), session: this.session(name), state: "offline" };
      this.users.push(u);
      this.byName.set(name, u);
      if (room) this.occupants.set(room, [...(this.occupants.get(room) ?? []), name]);
    }
  }

  private readonly byName = new Map<string, User>();
  /** When each user's last resumption completed (performance.now()). */
  private readonly resumedAt = new Map<string, number>();

  /** A stanza of `name`'s sent at `at` crossed a cut: the user is resuming, or resumed since. */
  private held(name: string, at: number): boolean {
    return this.byName.get(name)?.state === "cut" || at < (this.resumedAt.get(name) ?? -Infinity);
  }

  fail(note: string): void {
    this.counts.failures++;
    if (this.failureNotes.length < 20) this.failureNotes.push(note);
    this.o.log(`  failure: ${note}`);
  }

  private session(name: string): SmSession {
    const s = new SmSession({ target: this.o.target, user: name, password: this.o.password, resource: "soak" });
    if (this.o.trace) s.onEvent = (line) => this.event(name, line);
    s.onProblem = (what) => this.fail(`${name}: ${what}`);
    return s;
  }

  private event(name: string, what: string): void {
    if (this.o.trace) this.events.push(`${performance.now().toFixed(1)} ${name} ${what}`);
  }

  /** The events of these users within `ms` of `at`. */
  eventsAround(names: string[], at: number, ms: number): string[] {
    return this.events.filter((e) => {
      const [t, name] = e.split(" ", 2);
      return names.includes(name!) && Math.abs(Number(t) - at) <= ms;
    });
  }

  private send(u: User, stanza: string): void {
    this.counts.stanzasSent++;
    u.session.send(stanza);
  }

  private onStanza(u: User, el: Element): void {
    this.counts.stanzasReceived++;
    const list = this.waiters.get(u);
    if (list?.length) this.waiters.set(u, list.filter((w) => !w(el)));
    const type = el.attrs.type;
    if (type === "error") return this.fail(`${u.name} got an error ${el.name}: ${el.toString().slice(0, 300)}`);
    if (el.name === "message") {
      const body = el.getChildText("body");
      if (body !== null) this.ledger.receive(u.name, body);
    } else if (el.name === "presence") {
      const partner = this.users[u.partner]!;
      if (type === "subscribe" && el.attrs.from === partner.bare) this.send(u, `<presence to='${partner.bare}' type='subscribed'/>`);
    } else if (el.name === "iq" && (type === "get" || type === "set")) {
      // Roster pushes (RFC 6121 §2.1.6) and pings (XEP-0199) are answered; anything else is not for this client.
      const known = el.getChild("query", "jabber:iq:roster") || el.getChild("ping", "urn:xmpp:ping");
      const to = el.attrs.from ? ` to='${el.attrs.from}'` : "";
      this.send(u, known ? `<iq type='result' id='${el.attrs.id}'${to}/>`
        : `<iq type='error' id='${el.attrs.id}'${to}><error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>`);
    }
  }

  /** Resolves when `u` receives a stanza that matches (or rejects after `ms`). */
  private wait(u: User, match: (el: Element) => boolean, what: string, ms = 30_000): Promise<Element> {
    return new Promise((resolve, reject) => {
      const w: Waiter = (el) => {
        if (!match(el)) return false;
        clearTimeout(timer);
        resolve(el);
        return true;
      };
      const timer = setTimeout(() => {
        this.waiters.set(u, (this.waiters.get(u) ?? []).filter((x) => x !== w));
        reject(new Error(`${u.name}: no ${what} in ${ms} ms`));
      }, ms);
      this.waiters.set(u, [...(this.waiters.get(u) ?? []), w]);
    });
  }

  /** Logs `u` in, sends initial presence and waits for it to come back: then it is online. */
  private async online(u: User): Promise<void> {
    u.state = "joining";
    u.session = this.session(u.name);
    u.session.onStanza = (el) => this.onStanza(u, el);
    await u.session.login();
    this.event(u.name, `logged in as ${u.session.jid}, sm id ${u.session.smId}`);
    this.counts.logins++;
    const self = this.wait(u, (el) => el.name === "presence" && el.attrs.from === u.session.jid && el.attrs.type === undefined, "own presence");
    this.send(u, "<presence/>");
    await self;
    u.state = "online";
  }

  /** Everyone online, partners subscribed both ways, steady users in their rooms. */
  async setup(): Promise<void> {
    for (let i = 0; i < this.users.length; i += 16) await Promise.all(this.users.slice(i, i + 16).map((u) => this.online(u)));
    // Subscriptions (RFC 6121 §3): each asks its partner, whose client approves (onStanza).
    const subscribed = this.users.map((u) => this.wait(u, (el) => el.name === "presence" && el.attrs.type === "subscribed", "subscription approved"));
    for (const u of this.users) this.send(u, `<presence to='${this.users[u.partner]!.bare}' type='subscribe'/>`);
    await Promise.all(subscribed);
    for (const [room, names] of this.occupants) {
      const [first, ...rest] = names.map((n) => this.users.find((u) => u.name === n)!);
      await this.enter(first!, room);
      const form = this.wait(first!, (el) => el.attrs.id === "cfg", "room configured");
      this.send(first!, `<iq type='set' id='cfg' to='${room}'><query xmlns='${MUC}#owner'><x xmlns='jabber:x:data' type='submit'/></query></iq>`);
      await form;
      await Promise.all(rest.map((u) => this.enter(u, room)));
    }
  }

  /** Enters the room (no history), done when the room presents the user to itself (status 110). */
  private async enter(u: User, room: string): Promise<void> {
    const self = this.wait(u, (el) => el.name === "presence" && el.attrs.from === `${room}/${u.name}`, "own presence in the room");
    this.send(u, `<presence to='${room}/${u.name}'><x xmlns='${MUC}'><history maxstanzas='0'/></x></presence>`);
    await self;
  }

  private pick(filter: (u: User) => boolean): User | undefined {
    for (let k = 0; k < 8; k++) {
      const u = this.users[Math.floor(this.o.random() * this.users.length)]!;
      if (filter(u)) return u;
    }
    return undefined;
  }

  /** Online or cut (a cut session is held by the server and written to as if connected). */
  private reachable = (u: User) => u.state === "online" || u.state === "cut";

  /** One stanza of the mix: chat 70%, room messages 8%, presence 20%, roster sets 2%. */
  step(): void {
    const r = this.o.random();
    if (r < 0.7) {
      const u = this.pick((x) => this.reachable(x) && this.reachable(this.users[x.partner]!));
      if (!u) return;
      const p = this.users[u.partner]!;
      const to = this.o.random() < 0.5 ? p.bare : `${p.bare}/soak`;
      const note = this.o.trace ? noteCode(to !== p.bare, u.state, u.session.pending, p.state) : 0;
      this.send(u, `<message to='${to}' type='chat'><body>${this.ledger.body("c", u.name, p.name, note)}</body></message>`);
    } else if (r < 0.78) {
      const u = this.pick((x) => x.room !== undefined && this.reachable(x));
      if (!u) return;
      const body = this.ledger.roomBody(u.name, u.room!, this.occupants.get(u.room!)!);
      this.send(u, `<message to='${u.room}' type='groupchat'><body>${body}</body></message>`);
    } else if (r < 0.98) {
      const u = this.pick((x) => x.state === "online");
      if (!u) return;
      const show = SHOWS[Math.floor(this.o.random() * SHOWS.length)];
      this.send(u, `<presence>${show ? `<show>${show}</show>` : ""}<status>soak ${this.counts.stanzasSent}</status></presence>`);
    } else {
      const u = this.pick((x) => x.state === "online");
      if (!u) return;
      this.send(u, `<iq type='set' id='r${++this.iqs}'><query xmlns='jabber:iq:roster'><item jid='${this.users[u.partner]!.bare}' name='partner ${this.iqs}'/></query></iq>`);
    }
  }

  /** A steady user's connection is cut; after up to 1.5 s it resumes on a new one. */
  async cut(): Promise<void> {
    const u = this.pick((x) => x.steady && x.state === "online");
    if (!u) return;
    u.state = "cut";
    u.session.cut();
    this.counts.cuts++;
    await sleep(this.o.random() * 1500);
    try {
      const before = u.session.resent;
      await u.session.resume();
      this.counts.resumes++;
      this.counts.resent += u.session.resent - before;
      this.resumedAt.set(u.name, performance.now());
      u.state = "online";
    } catch (e) {
      this.fail(`${u.name}: resumption failed: ${(e as Error).message}`);
      // Its room and its held stanzas are gone: it stays out of the traffic.
      u.state = "offline";
    }
  }

  /** A churner logs out (once nothing is owed to it) or in. */
  async churn(): Promise<void> {
    const u = this.pick((x) => !x.steady && (x.state === "online" || x.state === "offline"));
    if (!u) return;
    this.busy++;
    try {
      if (u.state === "offline") await this.online(u);
      else await this.leave(u);
    } catch (e) {
      this.fail(`${u.name}: ${u.state === "joining" ? "login" : "logout"} failed: ${(e as Error).message}`);
      u.session.cut();
      u.state = "offline";
    } finally {
      this.busy--;
    }
  }

  private async leave(u: User): Promise<void> {
    u.state = "leaving";
    const deadline = Date.now() + 30_000;
    while ((this.ledger.owed(u.name) > 0 || u.session.pending > 0) && Date.now() < deadline) {
      u.session.requestAck();
      await sleep(100);
    }
    if (this.ledger.owed(u.name) > 0) this.fail(`${u.name}: ${this.ledger.owed(u.name)} messages sent to it still on their way after 30 s`);
    this.event(u.name, "logging out");
    await u.session.close();
    this.counts.logouts++;
    u.state = "offline";
  }

  /** Asks every connected session for an ack, so the held stanzas stay few on both sides. */
  requestAcks(): void {
    for (const u of this.users) if (u.session.pending > 0) u.session.requestAck();
  }

  /** Waits for the churns and resumptions under way, then for everything sent to arrive (or `ms`). */
  async drain(ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline && (this.busy > 0 || this.users.some((u) => u.state === "cut" || u.state === "joining" || u.state === "leaving"))) await sleep(100);
    while (Date.now() < deadline && this.ledger.outstanding > 0) {
      this.requestAcks();
      await sleep(200);
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.users.map((u) => u.session.close()));
  }
}
