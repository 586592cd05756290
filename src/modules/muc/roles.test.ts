import { describe, expect, it } from "vitest";
import { checkAffiliationChange, checkRoleChange, defaultRole } from "./roles.ts";

describe("roles and affiliations (XEP-0045 §5, §8-§10)", () => {
  it("default roles: owners and admins moderate; the unaffiliated are visitors in moderated rooms", () => {
    expect(defaultRole("owner", false)).toBe("moderator");
    expect(defaultRole("admin", true)).toBe("moderator");
    expect(defaultRole("member", true)).toBe("participant");
    expect(defaultRole("none", true)).toBe("visitor");
    expect(defaultRole("none", false)).toBe("participant");
  });

  it("moderators kick and give voice, but not to admins or owners; moderator status is for admins", () => {
    const mod = { role: "moderator" as const, aff: "none" as const };
    const admin = { role: "moderator" as const, aff: "admin" as const };
    expect(checkRoleChange(mod, { role: "participant", aff: "none" }, "none")).toBeUndefined();
    expect(checkRoleChange(mod, { role: "moderator", aff: "owner" }, "none")?.condition).toBe("not-allowed");
    expect(checkRoleChange(mod, { role: "participant", aff: "member" }, "moderator")?.condition).toBe("not-allowed");
    expect(checkRoleChange(admin, { role: "participant", aff: "member" }, "moderator")).toBeUndefined();
    expect(checkRoleChange({ role: "participant", aff: "member" }, { role: "participant", aff: "none" }, "none")?.condition).toBe("forbidden");
  });

  it("admins manage members and outcasts, owners everything", () => {
    expect(checkAffiliationChange("admin", "none", "outcast")).toBeUndefined();
    expect(checkAffiliationChange("admin", "owner", "outcast")?.condition).toBe("not-allowed");
    expect(checkAffiliationChange("admin", "member", "admin")?.condition).toBe("forbidden");
    expect(checkAffiliationChange("owner", "admin", "owner")).toBeUndefined();
    expect(checkAffiliationChange("member", "none", "member")?.condition).toBe("forbidden");
  });
});
