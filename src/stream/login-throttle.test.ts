import { describe, expect, it } from "vitest";
import { ACCOUNT_MAX_DELAY_MS, ACCOUNT_WINDOW_MS, ADDRESS_WINDOW_MS, LocalLoginThrottle, accountKey, accountSpacing, addressKey } from "./login-throttle.ts";

describe("addressKey", () => {
  it("keeps IPv4 addresses, and reads IPv4-mapped IPv6 ones as IPv4", () => {
    expect(addressKey("192.0.2.7", 64)).toBe("192.0.2.7");
    expect(addressKey("::ffff:192.0.2.7", 64)).toBe("192.0.2.7");
    expect(addressKey("::ffff:c000:0207", 64)).toBe("192.0.2.7");
  });

  it("keys IPv6 by its prefix: one /64 is one key, whatever the spelling", () => {
    const a = addressKey("2001:db8:1:2:aaaa::1", 64);
    expect(a).toBe("2001:db8:1:2:0:0:0:0/64");
    expect(addressKey("2001:0DB8:0001:0002:ffff:ffff:ffff:fffe", 64)).toBe(a);
    expect(addressKey("2001:db8:1:3::1", 64)).not.toBe(a);
    expect(addressKey("fe80::1%eth0", 64)).toBe("fe80:0:0:0:0:0:0:0/64");
  });

  it("takes other prefix lengths, inside a group too", () => {
    expect(addressKey("2001:db8:1:2::1", 48)).toBe("2001:db8:1:0:0:0:0:0/48");
    expect(addressKey("2001:db8:1:2::1", 56)).toBe("2001:db8:1:0:0:0:0:0/56");
    expect(addressKey("2001:db8:1:2ff::1", 56)).toBe("2001:db8:1:200:0:0:0:0/56");
    expect(addressKey("2001:db8::1", 128)).toBe("2001:db8:0:0:0:0:0:1/128");
    expect(addressKey("::1", 64)).toBe("0:0:0:0:0:0:0:0/64");
  });

  it("leaves what is not an IP address as it is", () => {
    expect(addressKey("unknown", 64)).toBe("unknown");
  });
});

describe("accountKey", () => {
  it("is the normalised localpart at the stream's domain, or undefined for what cannot be one", () => {
    expect(accountKey("Romeo", "example.com")).toBe("romeo@example.com");
    expect(accountKey("Romeo", "example.org")).toBe("romeo@example.org");
    expect(accountKey("a@b", "example.com")).toBeUndefined();
  });
});

describe("LocalLoginThrottle", () => {
  const clock = () => {
    let t = 1_000_000;
    return { now: () => t, advance: (ms: number) => (t += ms) };
  };

  it("counts an attempt when it starts: the limit bounds attempts in progress, not only failures", () => {
    const c = clock();
    const th = new LocalLoginThrottle({ perAddress: 3, perAccount: 5 }, c.now);
    expect([th.begin("a"), th.begin("a"), th.begin("a"), th.begin("a")]).toEqual([true, true, true, false]);
    expect(th.begin("b")).toBe(true);
    // One ends without a refused password: its place is free again.
    th.release("a");
    expect(th.begin("a")).toBe(true);
    expect(th.begin("a")).toBe(false);
    c.advance(ADDRESS_WINDOW_MS);
    expect(th.begin("a")).toBe(true);
  });

  it("spaces an account's attempts past its limit, 1 s doubling to 30 s, and refuses a turn further than that", () => {
    const c = clock();
    const th = new LocalLoginThrottle({ perAddress: 100, perAccount: 2 }, c.now);
    expect([th.account("romeo"), th.account("romeo")]).toEqual([0, 0]);
    // Sent at once, the next ones queue behind each other.
    expect(th.account("romeo")).toBe(1000);
    expect(th.account("romeo")).toBe(3000);
    expect(th.account("romeo")).toBe(7000);
    expect(th.account("juliet")).toBe(0);
    c.advance(7000);
    expect(th.account("romeo")).toBe(8000);
    expect(th.account("romeo")).toBe(24_000);
    // The spacing stops growing at its maximum; a turn more than that away is refused, not queued.
    expect(th.account("romeo")).toBeUndefined();
    c.advance(24_000);
    expect(th.account("romeo")).toBe(ACCOUNT_MAX_DELAY_MS);
  });

  it("uncounts an account's attempt that refused no password, and forgets the account after its window", () => {
    const c = clock();
    const th = new LocalLoginThrottle({ perAddress: 100, perAccount: 1 }, c.now);
    expect(th.account("romeo")).toBe(0);
    th.releaseAccount("romeo");
    expect(th.account("romeo")).toBe(0);
    expect(th.account("romeo")).toBe(1000);
    c.advance(ACCOUNT_WINDOW_MS);
    expect(th.account("romeo")).toBe(0);
  });
});

describe("accountSpacing", () => {
  it("is 0 up to the limit, then doubles from 1 s to at most 30 s", () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8].map((n) => accountSpacing(n, 2))).toEqual([0, 0, 1000, 2000, 4000, 8000, 16_000, 30_000]);
    expect(accountSpacing(1000, 2)).toBe(30_000);
  });
});
