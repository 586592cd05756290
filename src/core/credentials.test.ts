import { describe, expect, it } from "vitest";
import {
  UnknownUsers, deriveCredentials, fakeCredentials, preparePassword, scramCredential, verifyPassword, type ScramCredential,
} from "./credentials.ts";

describe("deriveCredentials", () => {
  it("stores salted keys for both hashes and never the password", async () => {
    const password = "s3cret-passw0rd";
    const creds = await deriveCredentials(password);
    expect(Object.keys(creds).sort()).toEqual(["SHA-1", "SHA-256"]);
    for (const [hash, cred] of Object.entries(creds) as [string, ScramCredential][]) {
      expect(Object.keys(cred).sort()).toEqual(["iterations", "salt", "serverKey", "storedKey"]);
      expect(cred.iterations).toBe(4096);
      expect(Buffer.from(cred.salt, "base64")).toHaveLength(16);
      const size = hash === "SHA-1" ? 20 : 32;
      expect(Buffer.from(cred.storedKey, "base64")).toHaveLength(size);
      expect(Buffer.from(cred.serverKey, "base64")).toHaveLength(size);
    }
    const dump = JSON.stringify(creds);
    for (const form of [password, Buffer.from(password).toString("base64"), Buffer.from(password).toString("hex")]) {
      expect(dump).not.toContain(form);
    }
    expect(creds["SHA-1"]?.salt).not.toBe(creds["SHA-256"]?.salt);
  });

  it("uses a fresh salt each time and the configured iteration count", async () => {
    const a = await deriveCredentials("pw", { iterations: 100 });
    const b = await deriveCredentials("pw", { iterations: 100 });
    expect(a["SHA-256"]?.iterations).toBe(100);
    expect(a["SHA-256"]?.salt).not.toBe(b["SHA-256"]?.salt);
    expect(a["SHA-256"]?.storedKey).not.toBe(b["SHA-256"]?.storedKey);
  });

  it("refuses unusable passwords and iteration counts", async () => {
    await expect(deriveCredentials("")).rejects.toThrow(RangeError);
    await expect(deriveCredentials("a\u0007b")).rejects.toThrow(RangeError);
    await expect(deriveCredentials("pw", { iterations: 0 })).rejects.toThrow(RangeError);
    await expect(deriveCredentials("pw", { iterations: 1.5 })).rejects.toThrow(RangeError);
  });

  it("matches the RFC 7677 keys for pencil", async () => {
    const cred = await scramCredential("SHA-256", "pencil", Buffer.from("W22ZaJ0SNY7soEsUEjb6gQ==", "base64"), 4096);
    expect(cred.salt).toBe("W22ZaJ0SNY7soEsUEjb6gQ==");
    expect(cred.iterations).toBe(4096);
  });
});

describe("verifyPassword", () => {
  it("accepts the password and refuses others", async () => {
    const creds = await deriveCredentials("pässword", { iterations: 64 });
    expect(await verifyPassword(creds, "pässword")).toBe(true);
    expect(await verifyPassword(creds, "password")).toBe(false);
    expect(await verifyPassword(creds, "")).toBe(false);
  });

  it("prepares the password: NFD equals NFC, a no-break space equals a space", async () => {
    const creds = await deriveCredentials("caf\u00e9 au lait", { iterations: 64 });
    expect(await verifyPassword(creds, "cafe\u0301 au lait")).toBe(true);
    expect(await verifyPassword(creds, "caf\u00e9\u00a0au\u3000lait")).toBe(true);
  });

  it("works with only one hash stored, and refuses empty or corrupt credentials", async () => {
    const creds = await deriveCredentials("pw", { iterations: 64 });
    expect(await verifyPassword({ "SHA-1": creds["SHA-1"] }, "pw")).toBe(true);
    expect(await verifyPassword({}, "pw")).toBe(false);
    const corrupt = { "SHA-256": { ...(creds["SHA-256"] as ScramCredential), storedKey: "AAAA" } };
    expect(await verifyPassword(corrupt, "pw")).toBe(false);
    const badCount = { "SHA-256": { ...(creds["SHA-256"] as ScramCredential), iterations: -1 } };
    expect(await verifyPassword(badCount, "pw")).toBe(false);
  });
});

describe("preparePassword (OpaqueString)", () => {
  it("maps spaces, composes and refuses controls", () => {
    expect(preparePassword("a\u2003b")).toBe("a b");
    expect(preparePassword("e\u0301")).toBe("\u00e9");
    expect(preparePassword("a\nb")).toBeUndefined();
    expect(preparePassword("")).toBeUndefined();
  });
});

describe("fakeCredentials", () => {
  it("is stable per user, differs between users, and never verifies", async () => {
    expect(fakeCredentials("ghost")).toEqual(fakeCredentials("ghost"));
    expect(fakeCredentials("Ghost")).toEqual(fakeCredentials("ghost"));
    expect(fakeCredentials("ghost")["SHA-256"]?.salt).not.toBe(fakeCredentials("spirit")["SHA-256"]?.salt);
    expect(fakeCredentials("ghost")["SHA-256"]?.iterations).toBe(4096);
    expect(await verifyPassword(fakeCredentials("ghost"), "anything")).toBe(false);
  });
});

describe("UnknownUsers", () => {
  const secret = Buffer.alloc(32, 7);

  it("derives from the server's secret: the same for a name with the same secret (a restart, another node), not with another", () => {
    const a = new UnknownUsers(secret, 5000).credentials("ghost");
    expect(new UnknownUsers(Buffer.from(secret), 5000).credentials("Ghost")).toEqual(a);
    expect(new UnknownUsers(Buffer.alloc(32, 8), 5000).credentials("ghost")["SHA-256"]?.salt).not.toBe(a["SHA-256"]?.salt);
  });

  it("has the iteration count new accounts get, and only the hashes asked for", () => {
    const u = new UnknownUsers(secret, 12_345);
    expect(u.credentials("ghost")["SHA-1"]?.iterations).toBe(12_345);
    expect(Object.keys(u.credentials("ghost", ["SHA-1"]))).toEqual(["SHA-1"]);
    expect(u.credentials("ghost", ["SHA-1"])["SHA-1"]).toEqual(u.credentials("ghost")["SHA-1"]);
  });

  it("never verifies a password", async () => {
    expect(await verifyPassword(new UnknownUsers(secret).credentials("ghost"), "ghost")).toBe(false);
  });
});
