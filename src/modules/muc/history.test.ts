import { describe, expect, it } from "vitest";
import { xml } from "../../xml/element.ts";
import { History, parseHistoryRequest } from "./history.ts";

const msg = (body: string) => xml("message", { from: "r@muc/n", type: "groupchat" }, xml("body", null, body));
const bodies = (h: History, req: Parameters<History["select"]>[0], now: number) => h.select(req, now).map((m) => m.getChildText("body"));

describe("room history (XEP-0045 §7.2.15-16)", () => {
  it("keeps the last `length` messages, with a delay from the room", () => {
    const h = new History(2);
    h.add(msg("a"), "r@muc", 1000);
    h.add(msg("b"), "r@muc", 2000);
    h.add(msg("c"), "r@muc", 3000);
    expect(bodies(h, {}, 4000)).toEqual(["b", "c"]);
    expect(h.select({}, 4000)[0]!.getChild("delay", "urn:xmpp:delay")!.attrs).toMatchObject({ from: "r@muc", stamp: new Date(2000).toISOString() });
  });

  it("applies maxstanzas, seconds, since and maxchars together", () => {
    const h = new History(10);
    for (const [i, b] of ["a", "b", "c", "d"].entries()) h.add(msg(b), "r@muc", 1000 * (i + 1));
    expect(bodies(h, { maxstanzas: 1 }, 5000)).toEqual(["d"]);
    expect(bodies(h, { maxstanzas: 0 }, 5000)).toEqual([]);
    expect(bodies(h, { seconds: 2 }, 5000)).toEqual(["c", "d"]);
    expect(bodies(h, { since: 2000 }, 5000)).toEqual(["b", "c", "d"]);
    const one = h.select({}, 5000)[3]!.toString().length;
    expect(bodies(h, { maxchars: one * 2 }, 5000)).toEqual(["c", "d"]);
    expect(bodies(h, { maxchars: 0 }, 5000)).toEqual([]);
  });

  it("reads <history/> leniently: bad values are ignored", () => {
    const x = xml("x", null, xml("history", { maxstanzas: "5", maxchars: "-1", since: "1970-01-01T00:00:02Z" }));
    expect(parseHistoryRequest(x)).toEqual({ maxstanzas: 5, maxchars: undefined, seconds: undefined, since: 2000 });
    expect(parseHistoryRequest(undefined)).toEqual({});
  });

  it("rewrites the entry with a room stanza-id (a retraction's tombstone), keeping its place and delay", () => {
    const h = new History(5);
    const sid = (id: string, by = "r@muc") => xml("stanza-id", { xmlns: "urn:xmpp:sid:0", by, id });
    h.add(xml("message", { from: "r@muc/n", type: "groupchat" }, xml("body", null, "a"), sid("s1")), "r@muc", 1000);
    h.add(xml("message", { from: "r@muc/n", type: "groupchat" }, xml("body", null, "b"), sid("s2", "forged@x")), "r@muc", 2000);
    const gone = (m: ReturnType<typeof xml>) => xml("message", m.attrs, ...m.getChildElements().filter((c) => c.name !== "body"));
    expect(h.rewrite("r@muc", "s2", gone)).toBe(false); // by someone else than the room
    expect(h.rewrite("r@muc", "s1", () => undefined)).toBe(false);
    expect(h.rewrite("r@muc", "s1", gone)).toBe(true);
    const [a, b] = h.select({}, 3000);
    expect(a!.getChild("body")).toBeUndefined();
    expect(a!.getChild("delay", "urn:xmpp:delay")!.attrs.stamp).toBe(new Date(1000).toISOString());
    expect(b!.getChildText("body")).toBe("b");
  });
});
