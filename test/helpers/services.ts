// The external services the scale-out backends are tested against, Redis and Cassandra, run by
// scripts/services/{redis,cassandra}.sh on their loopback ports (XMPPD_REDIS_PORT, default
// 16379; XMPPD_CASSANDRA_PORT, default 19042), S3Proxy for uploads, and coturn for calls
// (scripts/services/coturn.sh, XMPPD_COTURN_PORT, default 13478). scripts/test.sh starts them
// before vitest and stops them after. A test file of a backend asks `serviceUp(name)`: when the service answers,
// its tests run; when not, they are skipped with a message saying how to start it — except in
// CI (process.env.CI), where test.sh must have started it, so a missing service fails the run.
import { randomBytes } from "node:crypto";
import { createSocket } from "node:dgram";
import { connect } from "node:net";
import cassandra from "cassandra-driver";
import type { Redis } from "ioredis";

export type ServiceName = "redis" | "cassandra" | "s3" | "coturn";

export const services = {
  redis: { host: "127.0.0.1", port: Number(process.env.XMPPD_REDIS_PORT ?? 16379) },
  cassandra: { host: "127.0.0.1", port: Number(process.env.XMPPD_CASSANDRA_PORT ?? 19042), localDataCenter: "datacenter1" },
  /** S3Proxy with the credentials scripts/services/s3.sh gives it. */
  s3: {
    host: "127.0.0.1", port: Number(process.env.XMPPD_S3_PORT ?? 19000),
    accessKey: process.env.XMPPD_S3_ACCESS_KEY ?? "xmppd-test", secretKey: process.env.XMPPD_S3_SECRET_KEY ?? "xmppd-test-secret",
  },
  /** coturn with the shared secret (static-auth-secret) scripts/services/coturn.sh gives it; TURNS on tlsPort. */
  coturn: {
    host: "127.0.0.1", port: Number(process.env.XMPPD_COTURN_PORT ?? 13478), tlsPort: Number(process.env.XMPPD_COTURN_TLS_PORT ?? 15349),
    secret: process.env.XMPPD_COTURN_SECRET ?? "xmppd-test-turn-secret",
  },
} as const;

/** Sends `request` to the service and resolves with the reply once `complete` accepts the bytes so far. */
export function exchange(name: ServiceName, request: Buffer, complete: (reply: Buffer) => boolean, timeoutMs = 3000): Promise<Buffer> {
  const { host, port } = services[name];
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    let reply = Buffer.alloc(0);
    const done = (err: Error | undefined): void => {
      socket.destroy();
      if (err) reject(err);
      else resolve(reply);
    };
    socket.setTimeout(timeoutMs, () => done(new Error(`${name} on ${host}:${port}: no reply in ${timeoutMs} ms`)));
    socket.on("error", done);
    socket.on("connect", () => socket.write(request));
    socket.on("data", (chunk) => {
      reply = Buffer.concat([reply, chunk]);
      if (complete(reply)) done(undefined);
    });
    socket.on("end", () => done(new Error(`${name} on ${host}:${port} closed the connection`)));
  });
}

/** Redis: INFO server over RESP; the server's fields (redis_version, tcp_port, ...). */
export async function redisInfo(): Promise<Map<string, string>> {
  const reply = await exchange("redis", Buffer.from("*2\r\n$4\r\nINFO\r\n$6\r\nserver\r\n"), (r) => {
    // A bulk string: "$<length>\r\n<bytes>\r\n".
    const eol = r.indexOf("\r\n");
    return eol > 0 && r.length >= eol + 2 + Number(r.subarray(1, eol).toString()) + 2;
  });
  if (reply[0] !== 0x24) throw new Error(`redis: unexpected reply ${reply.subarray(0, 40).toString()}`);
  const fields = new Map<string, string>();
  for (const line of reply.toString().split("\r\n")) {
    const colon = line.indexOf(":");
    if (colon > 0) fields.set(line.slice(0, colon), line.slice(colon + 1));
  }
  return fields;
}

/**
 * Cassandra: an OPTIONS request of the native protocol (v4 frame: version, flags, stream,
 * opcode 0x05, empty body), answered by SUPPORTED (0x06), a string multimap such as
 * CQL_VERSION → ["3.4.7"], PROTOCOL_VERSIONS → ["3/v3", "4/v4", "5/v5", ...].
 */
export async function cassandraOptions(): Promise<Map<string, string[]>> {
  const request = Buffer.from([0x04, 0, 0, 0, 0x05, 0, 0, 0, 0]);
  const reply = await exchange("cassandra", request, (r) => r.length >= 9 && r.length >= 9 + r.readUInt32BE(5));
  if (reply[0] !== 0x84 || reply[4] !== 0x06) throw new Error(`cassandra: unexpected frame, opcode ${reply[4]}`);
  const options = new Map<string, string[]>();
  let at = 9;
  const str = (): string => {
    const len = reply.readUInt16BE(at);
    const s = reply.toString("utf8", at + 2, at + 2 + len);
    at += 2 + len;
    return s;
  };
  for (let keys = reply.readUInt16BE((at += 2) - 2); keys > 0; keys--) {
    const key = str();
    const values: string[] = [];
    for (let n = reply.readUInt16BE((at += 2) - 2); n > 0; n--) values.push(str());
    options.set(key, values);
  }
  return options;
}

/** S3: an anonymous GET of the service; S3Proxy answers with an S3 XML document (an error, without credentials). */
export async function s3Hello(): Promise<string> {
  const { host, port } = services.s3;
  const res = await fetch(`http://${host}:${port}/`, { signal: AbortSignal.timeout(3000) });
  const text = await res.text();
  if (!text.includes("<?xml") && !text.includes("<ListAllMyBucketsResult") && !text.includes("<Error>")) throw new Error(`s3: not an S3 answer: ${text.slice(0, 80)}`);
  return text;
}

/**
 * coturn: a STUN Binding request over UDP (RFC 5389 §6: type 0x0001, no attributes, the magic
 * cookie, a transaction id), answered by a Binding success response (0x0101) with the same id.
 */
export function stunBinding(timeoutMs = 3000): Promise<void> {
  const { host, port } = services.coturn;
  const id = randomBytes(12);
  const request = Buffer.concat([Buffer.from([0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42]), id]);
  return new Promise((resolve, reject) => {
    const socket = createSocket("udp4");
    const done = (err: Error | undefined): void => {
      clearTimeout(timer);
      socket.close();
      if (err) reject(err);
      else resolve();
    };
    const timer = setTimeout(() => done(new Error(`coturn on ${host}:${port}: no STUN answer in ${timeoutMs} ms`)), timeoutMs);
    socket.on("error", done);
    socket.on("message", (reply) => {
      if (reply.length >= 20 && reply.readUInt16BE(0) === 0x0101 && reply.subarray(8, 20).equals(id)) done(undefined);
    });
    socket.send(request, port, host);
  });
}

const probes: Record<ServiceName, () => Promise<unknown>> = { redis: redisInfo, cassandra: cassandraOptions, s3: s3Hello, coturn: stunBinding };

/**
 * Whether the service answers. Outside CI a service that does not answer skips its tests, with
 * one line saying how to start it; in CI it is reported as up, so that the tests run and fail.
 */
export async function serviceUp(name: ServiceName): Promise<boolean> {
  try {
    await probes[name]();
    return true;
  } catch (err) {
    if (process.env.CI) return true;
    const { host, port } = services[name];
    console.warn(`${name} tests skipped: nothing answers on ${host}:${port} (${(err as Error).message}); ` +
      `start it with \`bash scripts/services/${name}.sh start\``);
    return false;
  }
}

/** Deletes every Redis key a test run made under its prefix (clusters and stores of tests use their own). */
export async function deleteKeys(redis: Redis, prefix: string): Promise<void> {
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length > 0) await redis.del(...keys);
}

/** Drops a keyspace a test run made on the Cassandra of scripts/services/cassandra.sh. */
export async function dropKeyspace(keyspace: string): Promise<void> {
  const { host, port, localDataCenter } = services.cassandra;
  const admin = new cassandra.Client({ contactPoints: [`${host}:${port}`], localDataCenter });
  try {
    await admin.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`);
  } finally {
    await admin.shutdown();
  }
}
