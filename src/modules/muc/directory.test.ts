import { describe, expect, it } from "vitest";
import { jid } from "../../xml/jid.ts";
import { RoomDirectory } from "./directory.ts";
import type { Room } from "./room.ts";

const room = (local: string) => ({ jid: jid(local, "conference.example.com") }) as unknown as Room;

describe("the MUC service's room directory", () => {
  it("counts rooms by creator while they exist, and names them in order", () => {
    const d = new RoomDirectory();
    const [a, b, c] = [room("b"), room("a"), room("c")];
    d.added(a, "romeo@example.com");
    d.added(b, "romeo@example.com");
    d.added(c, undefined);
    expect(d.names.list).toEqual(["a", "b", "c"]);
    expect(d.created("romeo@example.com")).toBe(2);
    d.removed(a);
    expect(d.created("romeo@example.com")).toBe(1);
    expect(d.names.list).toEqual(["a", "c"]);
  });

  it("counts the rooms an account is in once, however many of its resources are there", () => {
    const d = new RoomDirectory();
    const [a, b] = [room("a"), room("b")];
    d.visiting(a, "romeo@example.com", true);
    d.visiting(a, "romeo@example.com", true);
    expect(d.overJoined("romeo@example.com", undefined, 1)).toBe(true);
    expect(d.overJoined("romeo@example.com", a, 1)).toBe(false);
    expect(d.overJoined("romeo@example.com", b, 1)).toBe(true);
    d.visiting(a, "romeo@example.com", false);
    expect(d.overJoined("romeo@example.com", b, 1)).toBe(true);
    d.visiting(a, "romeo@example.com", false);
    expect(d.overJoined("romeo@example.com", b, 1)).toBe(false);
  });
});
