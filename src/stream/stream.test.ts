import { describe, expect, it } from "vitest";
import type { Element } from "../xml/element.ts";
import { createLogger } from "../core/log.ts";
import type { Transport, TransportEvents } from "../transports/transport.ts";
import { BACKLOG_HIGH, BACKLOG_LOW, Stream } from "./stream.ts";

/** A transport that records whether the stream wants it read. */
class Recorder implements Transport {
  readonly remoteAddress = "192.0.2.9";
  readonly secure = true;
  readonly canStartTls = false;
  readonly buffered = 0;
  paused = false;
  pauses = 0;
  events: TransportEvents | undefined;
  attach(events: TransportEvents): void {
    this.events = events;
  }
  write(): void {}
  startTls(): Promise<void> {
    return Promise.reject(new Error("no TLS"));
  }
  channelBinding() {
    return undefined;
  }
  pause(): void {
    this.paused = true;
    this.pauses++;
  }
  resume(): void {
    this.paused = false;
  }
  end(): void {}
}

/** A stream whose elements are handled only when the test lets each one go. */
class Gated extends Stream {
  readonly gates: (() => void)[] = [];
  handled = 0;
  constructor(t: Transport) {
    super(t, { maxStanzaSize: 1 << 16, maxDepth: 10, maxAttributes: 10, maxNameLength: 100 }, createLogger("silent"));
  }
  protected header(): string {
    return "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>";
  }
  protected opened(): void {}
  protected element(_el: Element): Promise<void> {
    return new Promise((resolve) => this.gates.push(() => {
      this.handled++;
      resolve();
    }));
  }
  protected finished(): void {}
  /** Lets the next waiting element finish, and waits for the stream to see it. */
  async letOneGo(): Promise<void> {
    while (this.gates.length === 0) await new Promise((r) => setImmediate(r));
    this.gates.shift()!();
    await new Promise((r) => setImmediate(r));
  }
}

describe("a stream's input while its elements wait to be handled", () => {
  it(`stops reading at ${BACKLOG_HIGH} unhandled elements and reads again at ${BACKLOG_LOW}`, async () => {
    const t = new Recorder();
    const s = new Gated(t);
    t.events!.data(Buffer.from("<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='example.com' version='1.0'>"));
    // What one read brings is parsed whole, so a burst may go past the mark; reading stops at it.
    t.events!.data(Buffer.from("<message/>".repeat(BACKLOG_HIGH + 5)));
    await new Promise((r) => setImmediate(r));
    expect(t.paused).toBe(true);
    expect(t.pauses).toBe(1);
    while (s.handled < BACKLOG_HIGH + 5 - BACKLOG_LOW - 1) await s.letOneGo();
    expect(t.paused).toBe(true);
    await s.letOneGo();
    expect(t.paused).toBe(false);
    while (s.gates.length > 0) await s.letOneGo();
    expect(s.handled).toBe(BACKLOG_HIGH + 5);
    expect(t.pauses).toBe(1);
  });

  it("a few elements in flight never stop reading", async () => {
    const t = new Recorder();
    const s = new Gated(t);
    t.events!.data(Buffer.from("<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='example.com' version='1.0'>"));
    for (let i = 0; i < 100; i++) {
      t.events!.data(Buffer.from("<message/><message/>"));
      await s.letOneGo();
      await s.letOneGo();
    }
    expect(t.pauses).toBe(0);
  });
});
