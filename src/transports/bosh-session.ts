// One BOSH session (XEP-0124) carrying one XMPP stream (XEP-0206), presented to the stream state
// machine as a Transport: the payloads of the client's requests, in request-id order, are the
// stream's input, behind a stream header made here at creation and at each xmpp:restart; what the
// stream writes waits for a request the session holds and goes back in its <body/>, without our
// header (whose id and from become the creation response's authid and from) and without its end
// (which becomes type='terminate').
//
// Requests: the one expected next is handled at once, those after it inside the window
// ('requests') wait for it (§14.2); a request id seen before gets its answer again (§14.3). A
// handled request is held until there is something to send, until 'wait' seconds pass (then an
// empty body), or until holding it would exceed 'hold'; answers go out in request-id order (§8).
// With no request held, 'inactivity' seconds (or a client's pause, §10) end the session and the
// stream sees its transport close, as a dropped TCP connection.
import { NS } from "../xml/ns.ts";
import { attr, intAttr, responseBody, terminateBody, xbosh, type RequestBody } from "./bosh-body.ts";
import { creationAttributes, POLLING, termsOf, type BoshLimits, type Terms } from "./bosh-terms.ts";
import { splitOutput, tagAttributes, type OutputSink } from "./output.ts";
import type { CertificateStore } from "./certificate-store.ts";
import type { ChannelBinding, Transport, TransportEvents } from "./transport.ts";

/** One HTTP request, as the session answers it. */
export interface Exchange {
  /** Answers with this <body/> (HTTP 200), unless the client's connection is gone. */
  answer(body: string, contentType: string): void;
  /** Abandons the request: the client sent it again on another connection. */
  drop(): void;
}

const STREAM_END = Buffer.from("</stream:stream>");

interface Held { rid: number; exchange: Exchange; timer: NodeJS.Timeout | undefined; creation: boolean }
interface Waiting { body: RequestBody; exchange: Exchange }

export class BoshSession implements Transport {
  readonly sid: string;
  readonly remoteAddress: string;
  readonly secure: boolean;
  readonly canStartTls = false;
  private events: TransportEvents | undefined;
  private readonly limits: BoshLimits;
  private readonly tls: Pick<CertificateStore, "default"> | undefined;
  private readonly gone: (s: BoshSession) => void;
  /** As agreed at creation (§7). */
  private readonly terms: Terms;
  /** The request id expected next: every one below it is handled. */
  private next: number;
  /** Requests received and not handled yet: after a missing one, or while reading is paused. */
  private readonly waiting = new Map<number, Waiting>();
  /** Handled requests not answered yet, lowest request id first. */
  private readonly held: Held[] = [];
  /** The latest answers by request id, for a client that sends a request again (§14.3). */
  private readonly answers = new Map<number, string>();
  /** What the stream wrote that no answer has taken yet. */
  private out: string[] = [];
  private outSize = 0;
  private rest = "";
  /** The header of the stream's first (re)start: authid and from of the creation response. */
  private header: { id: string; from: string } | undefined;
  /** open; ending: the stream is over and its last answer not sent yet; closed. */
  private state: "open" | "ending" | "closed" = "open";
  private streamError = false;
  private paused = false;
  private flushQueued = false;
  private inactivity: NodeJS.Timeout | undefined;
  /** A client's pause (§10): the inactivity allowed until its next request, in seconds. */
  private pausedFor: number | undefined;
  /** A missing request id holds the ones after it back for at most 'wait' seconds. */
  private gap: NodeJS.Timeout | undefined;
  private turn: NodeJS.Timeout | undefined;
  /** Requests-per-second bucket. */
  private tokens: number;
  private tokensAt = Date.now();
  /** When an empty request last got an empty answer at once (§11, §12). */
  private lastEmptyPoll = 0;
  private readonly sink: OutputSink;

  constructor(sid: string, body: RequestBody, o: {
    remoteAddress: string; secure: boolean; tls: Pick<CertificateStore, "default"> | undefined; limits: BoshLimits; gone(s: BoshSession): void;
  }) {
    this.sid = sid;
    this.remoteAddress = o.remoteAddress;
    this.secure = o.secure;
    this.tls = o.tls;
    this.limits = o.limits;
    this.gone = o.gone;
    this.terms = termsOf(body, o.limits);
    this.next = body.rid! + 1;
    this.tokens = Math.max(o.limits.requestsPerSecond * 3, 10);
    this.sink = {
      header: (tag) => this.streamHeader(tag),
      end: () => this.streamEnded(),
      element: (text) => this.queueOut(text),
    };
  }

  // --- Transport --------------------------------------------------------------------------------

  attach(events: TransportEvents): void {
    this.events = events;
  }

  get buffered(): number {
    return this.outSize;
  }

  write(data: string): void {
    if (this.state !== "open") return;
    this.rest = splitOutput(this.rest + data, this.sink);
  }

  startTls(): Promise<void> {
    return Promise.reject(new Error("no STARTTLS over BOSH: TLS is the HTTP connection's"));
  }

  /**
   * Over HTTPS the requests of a session may come on different TLS connections, so only what is
   * the same on all of them binds: the server's certificate (tls-server-end-point, RFC 5929 §4).
   */
  channelBinding(): ChannelBinding | undefined {
    const tls = this.tls;
    if (tls === undefined) return undefined;
    return { types: () => ["tls-server-end-point"], data: (t) => (t === "tls-server-end-point" ? tls.default.endPoint : undefined) };
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.drain();
  }

  /** The stream is over (closed by the server, or released): its last answer says terminate. */
  end(): void {
    if (this.state !== "open") return;
    this.state = "ending";
    this.queueFlush();
  }

  // --- requests -------------------------------------------------------------------------------------

  /** The session creation request (§7.1), once the stream is attached: the stream starts. */
  start(body: RequestBody, exchange: Exchange): void {
    // Even a polling client's (wait='0') creation request waits a moment for the features.
    this.held.push({ rid: body.rid!, exchange, timer: this.expiry(body.rid!, Math.max(this.terms.wait, 1)), creation: true });
    this.feed(this.streamOpening(this.terms.to, this.terms.lang));
  }

  /** Any later request of this session. */
  request(body: RequestBody, exchange: Exchange): void {
    clearTimeout(this.inactivity);
    this.inactivity = undefined;
    this.receive(body.rid!, body, exchange);
    this.idle();
  }

  private receive(rid: number, body: RequestBody, exchange: Exchange): void {
    if (this.state === "ending") return this.finish(exchange);
    if (this.state === "closed") return exchange.answer(terminateBody("item-not-found"), this.terms.contentType);
    if (rid < this.next) return this.repeated(rid, exchange);
    const again = this.waiting.get(rid);
    if (again) {
      again.exchange.drop();
      again.exchange = exchange;
      return;
    }
    // §14.2: beyond the window the request cannot be one this client may send.
    if (rid >= this.next + this.terms.requests) return this.terminate("item-not-found", exchange);
    // §11: more requests at once than 'requests' (one more to pause or terminate).
    const spare = body.attrs.type === "terminate" || body.attrs.pause !== undefined ? 1 : 0;
    if (this.held.length + this.waiting.size + 1 > this.terms.requests + spare) return this.terminate("policy-violation", exchange);
    this.waiting.set(rid, { body, exchange });
    this.drain();
  }

  /** A request of this session that breaks the binding's rules (§17.2): the session ends. */
  refuse(condition: string, exchange: Exchange): void {
    this.terminate(condition, exchange);
  }

  /** §14.3: a request sent again gets the answer it had, or takes the place of its first copy. */
  private repeated(rid: number, exchange: Exchange): void {
    const answer = this.answers.get(rid);
    if (answer !== undefined) return exchange.answer(answer, this.terms.contentType);
    const held = this.held.find((h) => h.rid === rid);
    if (!held) return this.terminate("item-not-found", exchange);
    held.exchange.drop();
    held.exchange = exchange;
  }

  /** Handles the waiting requests that are next in order, while reading is on and the rate allows. */
  private drain(): void {
    while (this.state === "open" && !this.paused && this.turn === undefined) {
      const w = this.waiting.get(this.next);
      if (!w) break;
      const wait = this.takeTurn();
      if (wait > 0) {
        this.turn = setTimeout(() => {
          this.turn = undefined;
          this.drain();
        }, wait);
        this.turn.unref();
        break;
      }
      this.waiting.delete(this.next);
      this.next++;
      this.handle(w.body, w.exchange);
    }
    this.watchGap();
  }

  /** A missing request id that does not come within 'wait' seconds ends the session. */
  private watchGap(): void {
    const stuck = this.state === "open" && this.waiting.size > 0 && !this.waiting.has(this.next);
    if (!stuck) {
      clearTimeout(this.gap);
      this.gap = undefined;
    } else if (this.gap === undefined) {
      this.gap = setTimeout(() => this.terminate("item-not-found"), Math.max(this.terms.wait, 1) * 1000);
      this.gap.unref();
    }
  }

  /** Milliseconds until the next request may be handled (0: now, and it is counted). */
  private takeTurn(): number {
    const rate = this.limits.requestsPerSecond;
    if (rate === 0) return 0;
    const now = Date.now();
    this.tokens = Math.min(Math.max(rate * 3, 10), this.tokens + ((now - this.tokensAt) * rate) / 1000);
    this.tokensAt = now;
    if (this.tokens >= 1) {
      this.tokens--;
      return 0;
    }
    return Math.ceil(((1 - this.tokens) * 1000) / rate);
  }

  /** One request, in order: its restart, its payloads, then it is held (or answered). */
  private handle(body: RequestBody, exchange: Exchange): void {
    const rid = body.rid!;
    this.pausedFor = undefined;
    if (xbosh(body, "restart") === "true") this.feed(this.streamOpening(body.attrs.to ?? this.terms.to, body.attrs["xml:lang"] ?? this.terms.lang));
    if (body.payloads.length > 0) this.feed(body.payloads.join(""));
    if (this.state !== "open") return this.finish(exchange);
    if (body.attrs.type === "terminate") {
      // Answered once the stream has ended, with what it wrote last.
      this.held.push({ rid, exchange, timer: undefined, creation: false });
      this.feed(STREAM_END);
      return;
    }
    const pause = intAttr(body, "pause");
    if (pause !== undefined && !Number.isNaN(pause) && this.limits.maxPause > 0) return this.pauseFor(Math.min(pause, this.limits.maxPause), exchange);
    const empty = body.payloads.length === 0 && xbosh(body, "restart") === undefined;
    if (empty && this.held.length >= this.terms.hold && this.outSize === 0 && this.pollingTooOften()) return this.terminate("policy-violation", exchange);
    this.held.push({ rid, exchange, timer: this.expiry(rid), creation: false });
    // Holding more than 'hold': the oldest is answered now, with whatever is waiting.
    while (this.held.length > this.terms.hold && !this.held[0]!.creation) this.answerOldest();
    if (this.outSize > 0) this.queueFlush();
  }

  /** §11, §12: an empty request answered at once, empty, within 'polling' seconds of the last one. */
  private pollingTooOften(): boolean {
    const now = Date.now();
    const tooSoon = now - this.lastEmptyPoll < POLLING * 1000;
    this.lastEmptyPoll = now;
    return tooSoon;
  }

  /** §10: every held request is answered now, the pause request without payloads, and the session waits `seconds`. */
  private pauseFor(seconds: number, exchange: Exchange): void {
    this.pausedFor = seconds;
    while (this.held.length > 0) this.answerOldest();
    exchange.answer(responseBody("", ""), this.terms.contentType);
  }

  /** A held request's wait: when it is over the request is answered (empty, unless something came). */
  private expiry(rid: number, seconds = this.terms.wait): NodeJS.Timeout {
    const timer = setTimeout(() => {
      // Answers go in request-id order: those held before it go first.
      while (this.held.length > 0 && this.held[0]!.rid <= rid) this.answerOldest();
    }, seconds * 1000);
    timer.unref();
    return timer;
  }

  // --- answers ----------------------------------------------------------------------------------------

  private answerOldest(): void {
    const h = this.held.shift()!;
    clearTimeout(h.timer);
    let attrs = h.creation ? creationAttributes(this.sid, this.terms, this.limits, this.header) : "";
    if (this.out.some((t) => t.startsWith("<stream:"))) attrs += attr("xmlns:stream", NS.stream);
    const body = responseBody(attrs, this.out.join(""));
    this.out = [];
    this.outSize = 0;
    this.remember(h.rid, body);
    h.exchange.answer(body, this.terms.contentType);
    this.idle();
  }

  /** Keeps an answer for §14.3, as many as the client may have requests outstanding. */
  private remember(rid: number, body: string): void {
    this.answers.set(rid, body);
    if (this.answers.size > this.terms.requests) this.answers.delete(this.answers.keys().next().value!);
  }

  private queueFlush(): void {
    if (this.flushQueued) return;
    this.flushQueued = true;
    // What the stream writes in one turn goes in one answer.
    setImmediate(() => {
      this.flushQueued = false;
      if (this.state === "ending") {
        if (this.held.length > 0 || this.waiting.size > 0) this.finish();
        else this.idle(); // the last answer waits for the client's next request
      } else if (this.outSize > 0 && this.held.length > 0) this.answerOldest();
    });
  }

  /**
   * The stream is over: the oldest request takes what it wrote last and every request the session
   * has gets type='terminate' (remote-stream-error after a stream error, XEP-0206 §2 and §6).
   */
  private finish(extra?: Exchange): void {
    const condition = this.streamError ? "remote-stream-error" : undefined;
    const ns = this.out.some((t) => t.startsWith("<stream:")) ? attr("xmlns:stream", NS.stream) : "";
    const exchanges = [...this.held.map((h) => h.exchange), ...[...this.waiting.values()].map((w) => w.exchange)];
    if (extra) exchanges.push(extra);
    const content = this.out.join("");
    this.close();
    exchanges.forEach((e, i) => e.answer(i === 0 ? terminateBody(condition, content, ns) : terminateBody(condition), this.terms.contentType));
  }

  /**
   * A binding error (§17.2) ends the session: every request it has is answered with it, and the
   * stream sees its transport close.
   */
  private terminate(condition: string | undefined, extra?: Exchange, reason = condition ?? "closed"): void {
    const exchanges = [...this.held.map((h) => h.exchange), ...[...this.waiting.values()].map((w) => w.exchange)];
    if (extra) exchanges.push(extra);
    const wasOpen = this.state === "open";
    this.close();
    for (const e of exchanges) e.answer(terminateBody(condition), this.terms.contentType);
    if (wasOpen) this.events?.close(reason);
  }

  /** With no request outstanding, the session ends after its inactivity period (§10). */
  private idle(): void {
    if (this.state === "closed" || this.held.length > 0 || this.waiting.size > 0 || this.inactivity !== undefined) return;
    this.inactivity = setTimeout(() => {
      this.inactivity = undefined;
      if (this.state === "ending") return this.close();
      this.terminate(undefined, undefined, "inactivity timeout");
    }, (this.pausedFor ?? this.limits.maxInactivity) * 1000);
    this.inactivity.unref();
  }

  private close(): void {
    if (this.state === "closed") return;
    this.state = "closed";
    for (const h of this.held) clearTimeout(h.timer);
    this.held.length = 0;
    this.waiting.clear();
    clearTimeout(this.inactivity);
    clearTimeout(this.gap);
    clearTimeout(this.turn);
    this.out = [];
    this.outSize = 0;
    this.gone(this);
  }

  // --- the stream's side ------------------------------------------------------------------------------

  private feed(text: string | Buffer): void {
    if (this.state === "open") this.events!.data(typeof text === "string" ? Buffer.from(text) : text);
  }

  /** The header the stream parser expects, for the creation request and each restart (XEP-0206 §5). */
  private streamOpening(to: string, lang: string): string {
    return `<stream:stream xmlns='${NS.client}' xmlns:stream='${NS.stream}'${attr("to", to)} version='1.0'${attr("xml:lang", lang)}>`;
  }

  private streamHeader(tag: string): void {
    if (this.header) return;
    const attrs = Object.fromEntries(tagAttributes(tag));
    // Escaped as our header wrote them, which is how they go back into an attribute.
    this.header = { id: attrs.id ?? "", from: attrs.from ?? "" };
  }

  private streamEnded(): void {
    this.end();
  }

  private queueOut(text: string): void {
    if (text.startsWith("<stream:error")) this.streamError = true;
    this.out.push(text);
    this.outSize += text.length;
    if (this.held.length > 0) this.queueFlush();
  }
}
