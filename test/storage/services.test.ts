// The services the scale-out backends and calls run on (scripts/services/): what scripts/test.sh
// starts before vitest is there, answers its protocol, and is the version the backends are written for.
import { describe, expect, it } from "vitest";
import { cassandraOptions, redisInfo, s3Hello, serviceUp, services, stunBinding } from "../helpers/services.ts";

describe.skipIf(!(await serviceUp("redis")))("service: redis", () => {
  it("answers INFO on its own loopback port with a Redis 7", async () => {
    const info = await redisInfo();
    expect(info.get("tcp_port")).toBe(String(services.redis.port));
    expect(Number(info.get("redis_version")?.split(".")[0])).toBeGreaterThanOrEqual(7);
  });
});

describe.skipIf(!(await serviceUp("cassandra")))("service: cassandra", () => {
  it("answers the native protocol with CQL 3 and protocol v4 or v5", async () => {
    const options = await cassandraOptions();
    expect(options.get("CQL_VERSION")?.[0]).toMatch(/^3\./);
    // cassandra-driver speaks v4 and v5; Cassandra 5.0 offers both.
    expect(options.get("PROTOCOL_VERSIONS")).toEqual(expect.arrayContaining(["4/v4", "5/v5"]));
  });
});

describe.skipIf(!(await serviceUp("s3")))("service: s3", () => {
  it("answers S3 on its own loopback port, and refuses a request without credentials", async () => {
    const res = await fetch(`http://${services.s3.host}:${services.s3.port}/`);
    expect(res.status).toBe(403);
    expect(await s3Hello()).toContain("<Error>");
  });
});

describe.skipIf(!(await serviceUp("coturn")))("service: coturn", () => {
  it("answers a STUN Binding request over UDP on its own loopback port", async () => {
    await expect(stunBinding()).resolves.toBeUndefined();
  });
});
