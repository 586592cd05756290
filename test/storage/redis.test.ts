// The storage contract on Redis (scripts/services/redis.sh): each test's store under a key
// prefix of its own, every key of the run deleted at the end. Skipped when no Redis answers,
// except in CI (test/helpers/services.ts).
import { afterAll, describe, expect, it } from "vitest";
import { Redis } from "ioredis";
import { RedisStorage } from "../../src/storage/redis/index.ts";
import { serviceUp, services } from "../helpers/services.ts";
import { storageContract } from "./contract.ts";

const up = await serviceUp("redis");
const { host, port } = services.redis;
const run = `xmppd-test-${process.pid}-${Date.now().toString(36)}`;
let n = 0;

afterAll(async () => {
  if (!up) return;
  const r = new Redis({ host, port });
  let cursor = "0";
  do {
    const [next, keys] = await r.scan(cursor, "MATCH", `${run}:*`, "COUNT", 1000);
    if (keys.length > 0) await r.del(...keys);
    cursor = next;
  } while (cursor !== "0");
  await r.quit();
});

describe.skipIf(!up)("redis", () => {
  storageContract("redis", async () => new RedisStorage({ host, port, prefix: `${run}:${++n}:` }), async (old) => {
    await old.close();
    return new RedisStorage({ host, port, prefix: `${run}:${n}:` });
  });
});

describe.skipIf(!up)("redis: logs longer than one read", () => {
  it("pages, filters, counts and expires across many round trips", async () => {
    const s = new RedisStorage({ host, port, prefix: `${run}:long:` });
    const log = s.log("archive");
    const id = (i: number) => String(i).padStart(4, "0");
    // 450 entries; every 100th is with c@x, a third of them expire at 1000.
    await log.append(Array.from({ length: 450 }, (_, i) => ({
      owner: "a@x", id: id(i), at: i, with: i % 100 === 7 ? "c@x/r" : "b@x", value: `v${i}`, expires: i % 3 === 0 ? 1000 : 0,
    })));
    const ids = (p: { entries: { id: string }[] }) => p.entries.map((e) => e.id);
    expect(ids(await log.query("a@x", { limit: 9, with: "c@x" }))).toEqual(["0007", "0107", "0207", "0307", "0407"]);
    expect(await log.query("a@x", { limit: 2, with: "c@x", fromEnd: true, before: "0407" })).toMatchObject({ complete: false });
    expect(ids(await log.query("a@x", { limit: 2, with: "c@x", fromEnd: true, before: "0407" }))).toEqual(["0207", "0307"]);
    expect(ids(await log.query("a@x", { limit: 3, after: "0398" }))).toEqual(["0399", "0400", "0401"]);
    expect(await log.count("a@x", {})).toBe(450);
    expect(await log.count("a@x", { with: "b@x", start: 300 })).toBe(148);
    expect(await log.expire(1000)).toBe(150);
    expect(await log.count("a@x", {})).toBe(300);
    expect(ids(await log.query("a@x", { limit: 2, fromEnd: true }))).toEqual(["0448", "0449"]);
    await s.purgeOwner("a@x");
    expect(await log.count("a@x", {})).toBe(0);
    await s.close();
  });
});
