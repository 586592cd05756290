// An XML stream (RFC 6120 §4) over one transport, whatever is negotiated on it: the parser and
// its limits, the byte-rate shaper, our stream headers, the elements handled one after another,
// and the end of the stream (a stream error, then the closing tag, §4.4 and §4.9). What the
// stream negotiates (features, SASL and binding for a client) is its subclass's: c2s.ts, and
// the server-to-server streams of s2s/, one of which is the initiating entity: it sends its
// header first (openStream) rather than in answer to the peer's.
import type { Element } from "../xml/element.ts";
import { StreamParser, type ParserErrorCondition, type ParserHandler, type ParserLimits } from "../xml/parser.ts";
import { StreamError } from "../core/errors.ts";
import { randomToken } from "../core/ids.ts";
import type { Shapers } from "../core/limits.ts";
import type { Logger } from "../core/log.ts";
import type { Transport, TransportEvents } from "../transports/transport.ts";

let nextId = 0;

/** The transport's listener: one small object instead of a closure per event. */
class Listener implements TransportEvents {
  private readonly stream: Stream;
  constructor(stream: Stream) {
    this.stream = stream;
  }
  data(chunk: Buffer): void {
    this.stream.transportData(chunk);
  }
  close(reason: string): void {
    this.stream.transportClosed(reason);
  }
}

/** Limits of the XML a stream takes, before and after authentication (a server config's `limits`). */
export interface StreamLimits { maxDepth: number; preAuthStanzaSize: number; stanzaSize: number }

/** Parser limits before and after authentication, per config: shared by every stream. */
const parserLimits = new WeakMap<StreamLimits, { pre: ParserLimits; post: ParserLimits }>();

/**
 * Elements read and waiting to be handled at which a stream stops reading, and at which it
 * reads again: apart enough that a client keeping a window of messages in flight does not stop
 * and start the socket for each one.
 */
export const BACKLOG_HIGH = 32;
export const BACKLOG_LOW = 8;

export function limitsOf(l: StreamLimits, authenticated: boolean): ParserLimits {
  let both = parserLimits.get(l);
  if (!both) {
    const of = (maxStanzaSize: number): ParserLimits => ({ maxStanzaSize, maxDepth: l.maxDepth, maxAttributes: 64, maxNameLength: 256 });
    both = { pre: of(l.preAuthStanzaSize), post: of(l.stanzaSize) };
    parserLimits.set(l, both);
  }
  return authenticated ? both.post : both.pre;
}

export abstract class Stream implements ParserHandler {
  readonly id: string;
  readonly transport: Transport;
  /** When the peer last sent anything (ms since epoch). */
  lastActivity = Date.now();
  private readonly parser: StreamParser;
  private ended = false;
  private headerSent = false;
  /** The server is shutting down and reads nothing more from this stream. */
  private draining = false;
  /** The input shapers and this stream's key in them (its own, or its account's): undefined while they are off. */
  private shaper: { shapers: Shapers; key: string } | undefined;
  /** The elements read so far, each handled after the one before it. */
  private pending: Promise<void> = Promise.resolve();
  /** Elements read and not yet handled; past BACKLOG_HIGH reading stops until BACKLOG_LOW. */
  private unhandled = 0;
  /** Why reading is stopped: a shaper's wait, too many elements waiting to be handled. */
  private readonly stopped = { throttle: false, backlog: false };
  /**
   * Which stream (of the restarts on this connection) the parser is reading. An element is read
   * before the ones ahead of it are handled, so what a peer pipelined behind <starttls/> or a
   * SASL exchange that restarts the stream was read as part of the old stream: it is dropped when
   * its turn comes (RFC 6120 §5.4.3.3: what came "in an insecure manner" before TLS is discarded).
   */
  private epoch = 0;
  private readonly rootLog: Logger;
  /** Built on first use: at the usual levels (warn) most streams never log. */
  private logger: Logger | undefined;

  /** This side opened the connection: it sends its header first (RFC 6120 §4.2), not in answer. */
  private readonly initiating: boolean;
  /** The 'to' of the peer's last stream header: the name whose certificate a STARTTLS presents. */
  private askedFor: string | undefined;

  protected constructor(transport: Transport, limits: ParserLimits, log: Logger, initiating = false) {
    this.id = `c${(++nextId).toString(36)}${randomToken(4, "hex")}`;
    this.transport = transport;
    this.initiating = initiating;
    this.rootLog = log;
    this.parser = new StreamParser(this, limits);
    transport.attach(new Listener(this));
  }

  /**
   * Our header for a new stream; each (re)start gets a fresh stream id. `peer`: the attributes of
   * the header it answers (undefined when the stream is closed before one was read).
   */
  protected abstract header(peer?: Record<string, string>): string;
  /** The peer's header was read and ours written. A StreamError thrown refuses the stream. */
  protected abstract opened(name: string, attrs: Record<string, string>): void;
  /** One top-level element, once the ones before it are handled. A StreamError thrown ends the stream. */
  protected abstract element(el: Element): Promise<void>;
  /** The stream is over: closed by this side, or `dropped` with its transport. Called once. */
  protected abstract finished(reason: string, dropped: boolean): void;

  get closed(): boolean {
    return this.ended;
  }

  get secure(): boolean {
    return this.transport.secure;
  }

  get remoteAddress(): string {
    return this.transport.remoteAddress;
  }

  get buffered(): number {
    return this.transport.buffered;
  }

  /** This stream's logger: the connection, its address, and what logFields adds. */
  get log(): Logger {
    this.logger ??= this.rootLog.child(this.logFields());
    return this.logger;
  }

  protected logFields(): Record<string, string> {
    return { conn: this.id, ip: this.transport.remoteAddress };
  }

  /** The log fields changed (a session was bound): the logger is built again on next use. */
  protected relog(): void {
    this.logger = undefined;
  }

  /** Logs at debug or info without building the child logger when that level is off. */
  protected note(level: "debug" | "info", obj: object, msg: string): void {
    if (this.rootLog.isLevelEnabled(level)) this.log[level](obj, msg);
  }

  write(text: string): void {
    this.transport.write(text);
  }

  // --- transport input -------------------------------------------------------------------------

  transportData(chunk: Buffer): void {
    if (this.ended || this.draining) return;
    this.lastActivity = Date.now();
    if (this.shaper) this.throttle(this.shaper.shapers.bytes(this.shaper.key, chunk.length));
    this.parser.write(chunk);
  }

  /** Stops reading for `wait` ms (a shaper's answer); what was read meanwhile is still handled. */
  private throttle(wait: number): void {
    if (wait <= 0) return;
    this.reading("throttle", true);
    setTimeout(() => this.reading("throttle", false), wait).unref();
  }

  /** One element read is handled (or failed): reading starts again at the low mark. */
  private readonly oneHandled = (): void => {
    if (--this.unhandled === BACKLOG_LOW) this.reading("backlog", false);
  };

  /** Reading stops while any reason holds, and for good once the server drains. */
  private reading(reason: keyof Stream["stopped"], stop: boolean): void {
    const before = this.stopped.throttle || this.stopped.backlog;
    this.stopped[reason] = stop;
    const after = this.stopped.throttle || this.stopped.backlog;
    if (after === before || this.ended || this.draining) return;
    if (after) this.transport.pause();
    else this.transport.resume();
  }

  transportClosed(reason: string): void {
    if (this.ended) return;
    this.ended = true;
    this.finished(reason, true);
  }

  // --- parser events (ParserHandler) -----------------------------------------------------------

  streamStart(name: string, attrs: Record<string, string>): void {
    this.askedFor = attrs.to;
    // Every stream (and every restart after STARTTLS and SASL) gets a fresh header and id; the
    // initiating side sent its own before the peer's came.
    if (!this.initiating) {
      this.headerSent = true;
      this.transport.write(this.header(attrs));
    }
    try {
      this.opened(name, attrs);
    } catch (e) {
      if (!(e instanceof StreamError)) throw e;
      this.close(e);
    }
  }

  stanza(el: Element): void {
    // Handled in arrival order: each waits for the one before it. Beyond the stanza shaper's
    // burst, each also waits for its turn (those of a chunk already read included), and reading
    // pauses meanwhile.
    const epoch = this.epoch;
    let run = () => (this.ended || epoch !== this.epoch ? undefined : this.element(el));
    const wait = this.shaper !== undefined && (el.name === "message" || el.name === "presence" || el.name === "iq")
      ? this.shaper.shapers.stanza(this.shaper.key) : 0;
    if (wait > 0) {
      this.throttle(wait);
      const due = Date.now() + wait;
      const now = run;
      run = () => new Promise<void>((r) => setTimeout(r, due - Date.now())).then(now);
    }
    // A peer that writes faster than its stanzas are handled (routing waits for a store, for a
    // full archive queue) is read no further until they are: what waits stays in the kernel's
    // buffers and the peer's, not parsed in this process's memory.
    if (++this.unhandled === BACKLOG_HIGH) this.reading("backlog", true);
    this.pending = this.pending.then(run).then(this.oneHandled, (e: unknown) => {
      if (e instanceof StreamError) this.close(e);
      else {
        this.log.error({ err: e }, "stream handler failed");
        this.close(new StreamError("internal-server-error"));
      }
      this.oneHandled();
    });
  }

  streamEnd(): void {
    const epoch = this.epoch;
    void this.pending.then(() => {
      if (epoch === this.epoch) this.close();
    });
  }

  error(condition: ParserErrorCondition, text: string): void {
    this.note("info", { condition, text }, "bad xml");
    this.close(new StreamError(condition, text));
  }

  // --- what the subclass does with the stream --------------------------------------------------

  /** Runs `task` after the elements read so far are handled (features wait for the handlers before them). */
  protected queue(task: () => Promise<void>): void {
    this.pending = this.pending.then(task);
  }

  /** The initiating side's header, at connect and after each restart. */
  protected openStream(): void {
    this.headerSent = true;
    this.transport.write(this.header());
  }

  /** A stream restart (RFC 6120 §4.3.3): the parser waits for a new header, with these limits if given. */
  protected restart(limits?: ParserLimits): void {
    this.epoch++;
    this.parser.reset();
    if (limits) this.parser.setLimits(limits);
  }

  /** New parser limits from the next element on, without a restart (a component's handshake, XEP-0114; SASL2, XEP-0388). */
  protected relimit(limits: ParserLimits): void {
    this.parser.setLimits(limits);
  }

  /** From now on what the peer sends is shaped under `key` (src/core/limits.ts), when the shapers are on. */
  protected shapeBy(shapers: Shapers, key: string): void {
    this.shaper = shapers.on ? { shapers, key } : undefined;
  }

  /**
   * STARTTLS (RFC 6120 §5): the parser waits for a new header over TLS, the accepting side presenting
   * the certificate of the name the header asked for; false (and the stream over) if the handshake failed.
   */
  protected async upgrade(): Promise<boolean> {
    this.epoch++;
    this.parser.reset();
    try {
      await this.transport.startTls(this.askedFor);
      return true;
    } catch {
      this.transportClosed("tls handshake failed");
      return false;
    }
  }

  /** Nothing more is read from the transport (the server's drain). */
  protected stopReading(): void {
    this.draining = true;
    if (!this.ended) this.transport.pause();
  }

  /**
   * Resolves once the elements read so far are handled (more may have come meanwhile); once the
   * stream ended, nothing more is read and only the element in hand is still handled.
   */
  settled(): Promise<void> {
    return this.pending;
  }

  /** Ends the stream: the stream error if any, then the closing tag (RFC 6120 §4.4). */
  close(error?: StreamError): void {
    if (this.ended) return;
    if (!this.headerSent) {
      this.headerSent = true;
      this.transport.write(this.header());
    }
    if (error) {
      this.note("info", { condition: error.condition, text: error.text }, "stream error");
      this.transport.write(error.toElement().toString());
    }
    this.transport.write("</stream:stream>");
    this.ended = true;
    this.transport.end();
    this.finished(error ? error.condition : "closed", false);
  }

  /** Ends the connection without a word: what the stream carried goes on elsewhere (a resumed session). */
  release(): void {
    if (this.ended) return;
    this.ended = true;
    this.transport.end();
    this.finished("released", false);
  }
}
