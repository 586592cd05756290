import { describe, expect, it } from "vitest";
import { xml } from "../xml/element.ts";
import { jid } from "../xml/jid.ts";
import { Events, type StanzaEvent } from "./events.ts";

const romeo = jid("romeo", "localhost");
const ev = (): StanzaEvent => ({ stanza: xml("message"), from: romeo, to: romeo, origin: undefined });
const features = () => ({ account: romeo, features: [] as ReturnType<typeof xml>[] });
const tick = () => new Promise((r) => setImmediate(r));

describe("handle hooks", () => {
  it("stop at the first handler that returns true; false when none does or none is registered", async () => {
    const events = new Events();
    expect(await events.handle("message/bare", ev())).toBe(false);
    const ran: string[] = [];
    events.onHandle("message/bare", () => void ran.push("a"));
    events.onHandle("message/bare", () => (ran.push("b"), false));
    expect(await events.handle("message/bare", ev())).toBe(false);
    events.onHandle("message/bare", () => (ran.push("c"), true));
    events.onHandle("message/bare", () => (ran.push("d"), true));
    expect(await events.handle("message/bare", ev())).toBe(true);
    expect(ran).toEqual(["a", "b", "a", "b", "c"]);
  });

  it("wait for an asynchronous handler before asking the next", async () => {
    const events = new Events();
    const ran: string[] = [];
    events.onHandle("message/bare", async () => {
      await tick();
      ran.push("slow");
      return false;
    });
    events.onHandle("message/bare", async () => (ran.push("taker"), true));
    events.onHandle("message/bare", () => (ran.push("never"), true));
    expect(await events.handle("message/bare", ev())).toBe(true);
    expect(ran).toEqual(["slow", "taker"]);
  });

  it("run by band (first, early, normal, late, last) whatever the order of registration, and in registration order within a band", async () => {
    const events = new Events();
    const ran: string[] = [];
    const add = (name: string, band?: "first" | "early" | "normal" | "late" | "last") =>
      events.onHandle("stanza/in", () => void ran.push(name), band);
    add("last", "last");
    add("late", "late");
    add("normal-1");
    add("first", "first");
    add("normal-2", "normal");
    add("early", "early");
    add("first-2", "first");
    await events.handle("stanza/in", ev());
    expect(ran).toEqual(["first", "first-2", "early", "normal-1", "normal-2", "late", "last"]);
  });

  it("handleNow answers synchronously while every handler does, and goes on after one that answers later", async () => {
    const events = new Events();
    const ran: string[] = [];
    events.onHandle("message/full", () => void ran.push("sync"));
    expect(events.handleNow("message/full", ev())).toBe(false);
    const late = events.onHandle("message/full", async () => (ran.push("async"), false));
    events.onHandle("message/full", () => (ran.push("after"), true));
    const answer = events.handleNow("message/full", ev());
    expect(answer).toBeInstanceOf(Promise);
    expect(await answer).toBe(true);
    expect(ran).toEqual(["sync", "sync", "async", "after"]);
    late();
    expect(events.handleNow("message/full", ev())).toBe(true);
  });
});

describe("fold hooks", () => {
  it("pass the value through every handler, by band, awaiting each", async () => {
    const events = new Events();
    events.onFold("stream/features", (v) => ({ ...v, features: [...v.features, xml("late")] }), "late");
    events.onFold("stream/features", async (v) => {
      await tick();
      return { ...v, features: [...v.features, xml("normal")] };
    });
    events.onFold("stream/features", (v) => ({ ...v, features: [...v.features, xml("first")] }), "first");
    const out = await events.fold("stream/features", features());
    expect(out.features.map((f) => f.name)).toEqual(["first", "normal", "late"]);
  });

  it("give the value back as it is when nobody folds", async () => {
    const v = features();
    expect(await new Events().fold("stream/features", v)).toBe(v);
  });
});

describe("notify hooks", () => {
  it("run every listener in band order; one that fails is reported and the others still run", async () => {
    const events = new Events();
    const ran: string[] = [];
    const errors: unknown[] = [];
    events.onNotify("account/deleted", () => void ran.push("normal"));
    events.onNotify("account/deleted", async () => {
      ran.push("first");
      throw new Error("boom");
    }, "first");
    events.onNotify("account/deleted", () => {
      ran.push("last");
      throw new Error("bang");
    }, "last");
    await events.notify("account/deleted", { jid: romeo }, (e) => errors.push(e));
    expect(ran).toEqual(["first", "normal", "last"]);
    expect(errors.map((e) => (e as Error).message)).toEqual(["boom", "bang"]);
  });

  it("wait for each listener before the next", async () => {
    const events = new Events();
    const ran: string[] = [];
    events.onNotify("account/deleted", async () => {
      await tick();
      ran.push("slow");
    });
    events.onNotify("account/deleted", () => void ran.push("next"));
    await events.notify("account/deleted", { jid: romeo }, () => {});
    expect(ran).toEqual(["slow", "next"]);
  });
});

describe("unsubscribing", () => {
  it("removes that handler only, and twice is harmless", async () => {
    const events = new Events();
    const ran: string[] = [];
    const a = events.onNotify("account/deleted", () => void ran.push("a"));
    events.onNotify("account/deleted", () => void ran.push("b"));
    const c = events.onHandle("message/bare", () => (ran.push("c"), true));
    const d = events.onFold("stream/features", (v) => (ran.push("d"), v));
    a();
    a();
    c();
    d();
    await events.notify("account/deleted", { jid: romeo }, () => {});
    expect(await events.handle("message/bare", ev())).toBe(false);
    await events.fold("stream/features", features());
    expect(ran).toEqual(["b"]);
  });

  it("during a run takes effect from the next run: a handler that removes itself does not make the next one skipped", async () => {
    const events = new Events();
    const ran: string[] = [];
    const once = events.onNotify("account/deleted", () => {
      ran.push("once");
      once();
    });
    events.onNotify("account/deleted", () => void ran.push("always"));
    await events.notify("account/deleted", { jid: romeo }, () => {});
    await events.notify("account/deleted", { jid: romeo }, () => {});
    expect(ran).toEqual(["once", "always", "always"]);
  });

  it("while a run awaits a handler, one removed or added meanwhile keeps to the run's list", async () => {
    const events = new Events();
    const ran: string[] = [];
    let release = () => {};
    events.onHandle("message/bare", () => new Promise<false>((r) => (release = () => r(false))));
    const removed = events.onHandle("message/bare", () => void ran.push("removed"));
    const run = events.handle("message/bare", ev());
    removed();
    events.onHandle("message/bare", () => (ran.push("added"), true));
    release();
    expect(await run).toBe(false);
    expect(ran).toEqual(["removed"]);
    release = () => {};
    const second = events.handle("message/bare", ev());
    release();
    expect(await second).toBe(true);
    expect(ran).toEqual(["removed", "added"]);
  });
});
