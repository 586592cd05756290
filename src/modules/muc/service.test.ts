import { describe, expect, it } from "vitest";
import { defaultConfig, type RoomConfig } from "./config.ts";
import { mayListOccupants } from "./service.ts";

const config = (c: Partial<RoomConfig>): RoomConfig => ({ ...defaultConfig(20), ...c });

describe("who outside a room sees its occupants in disco#items (XEP-0045 §6.5)", () => {
  it("an open public room: anyone but the banned", () => {
    expect(mayListOccupants(config({}), "none")).toBe(true);
    expect(mayListOccupants(config({}), "outcast")).toBe(false);
  });

  it("a members-only room: members, admins and owners", () => {
    const c = config({ membersOnly: true });
    expect(["none", "outcast", "member", "admin", "owner"].map((a) => mayListOccupants(c, a as never))).toEqual([false, false, true, true, true]);
  });

  it("a password-protected room: admins and owners (others need the password to enter)", () => {
    const c = config({ passwordProtected: true, password: "x" });
    expect(["none", "member", "admin", "owner"].map((a) => mayListOccupants(c, a as never))).toEqual([false, false, true, true]);
  });

  it("a hidden room: nobody outside it", () => {
    expect(mayListOccupants(config({ public: false }), "owner")).toBe(false);
  });
});
