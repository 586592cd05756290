import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadConfig, stripJsonComments } from "./config.ts";

const dir = mkdtempSync(join(tmpdir(), "xmppd-config-"));
const file = (text: string) => {
  const p = join(dir, `c${Math.random()}.jsonc`);
  writeFileSync(p, text);
  return p;
};

describe("config", () => {
  it("has working defaults", () => {
    const c = loadConfig(undefined, {}).server;
    expect(c.domain).toBe("localhost");
    expect(c.c2s.port).toBe(5222);
    expect(c.c2s.directTlsPort).toBe(5223);
    expect(c.c2s.requireTls).toBe(true);
    expect(c.dataDir).toBe("./data");
    expect(c.limits.stanzaSize).toBe(262144);
  });

  it("reads the commented example", () => {
    const c = loadConfig(join(import.meta.dirname, "../../xmppd.example.jsonc"), {});
    expect(c.server.admins).toEqual(["admin@localhost"]);
    expect(c.modules).toEqual({
      ping: { interval: 240, timeout: 60 },
      mam: { retention: 30, quota: 10000 },
      offline: { expireDays: 30, quota: 5000 },
      pubsub: { maxNodes: 10000, maxNodesPerAccount: 100, discoPage: 100 },
      muc: { maxRooms: 10000, maxRoomsPerAccount: 100, maxJoinedPerAccount: 100, discoPage: 100, archiveQuota: 50000 },
      push: { minInterval: 10, includeBody: false },
      proxy65: { port: 7777, maxStreamBytes: 1073741824, streamRate: 10485760, accountRate: 20971520, maxStreamsPerAccount: 5, activationTimeout: 60, idleTimeout: 300 },
      invite: { expiry: 604800, usersMayInvite: false, perUser: 5, perHour: 100 },
      webclient: { enabled: true, path: "/conversejs", viewMode: "fullscreen", settings: {} },
    });
  });

  it("reads the storage section: embedded by default, a Cassandra cluster with its replication as a map or as CQL text", () => {
    const d = loadConfig(undefined, {}).server.storage;
    expect(d.backend).toBe("embedded");
    expect(d.cassandra).toEqual({ contactPoints: ["127.0.0.1:9042"], localDataCenter: "datacenter1", keyspace: "xmppd",
      replication: { class: "SimpleStrategy", replication_factor: 1 }, consistency: "LOCAL_QUORUM" });
    const map = loadConfig(file(`{ "storage": { "backend": "cassandra", "cassandra": { "replication": { "class": "NetworkTopologyStrategy", "dc1": 3 } } } }`), {});
    const text = loadConfig(file(`{ "storage": { "backend": "cassandra" } }`),
      { XMPPD_STORAGE__CASSANDRA__REPLICATION: "{'class': 'NetworkTopologyStrategy', 'dc1': 3}", XMPPD_STORAGE__CASSANDRA__CONTACT_POINTS: "a:9042, b" });
    expect(map.server.storage.cassandra.replication).toEqual({ class: "NetworkTopologyStrategy", dc1: 3 });
    expect(text.server.storage.cassandra.replication).toEqual({ class: "NetworkTopologyStrategy", dc1: 3 });
    expect(text.server.storage.cassandra.contactPoints).toEqual(["a:9042", "b"]);
    expect(() => loadConfig(file(`{ "storage": { "cassandra": { "replication": "{class: x" } } }`), {}))
      .toThrow(/^storage\.cassandra\.replication: must be a map such as/);
    expect(() => loadConfig(file(`{ "storage": { "cassandra": { "replication": { "class": "SimpleStrategy", "rf": [1] } } } }`), {}))
      .toThrow("storage.cassandra.replication: rf must be a string or a number");
    expect(() => loadConfig(file(`{ "storage": { "cassandra": { "keyspace": "x; DROP" } } }`), {})).toThrow(/^storage\.cassandra\.keyspace: must be lower-case/);
  });

  it("reads further hosts (virtual hosts), each entry checked like a section", () => {
    expect(loadConfig(undefined, {}).server.hosts).toEqual({});
    const c = loadConfig(file(`{ "domain": "a.example", "hosts": { "B.Example.": { "admins": ["boss@b.example"], "registration": { "enabled": true } }, "c.example": {} } }`), {}).server;
    expect(c.hosts).toEqual({
      "b.example": { admins: ["boss@b.example"], registration: { enabled: true, perHourPerAddress: 5 } },
      "c.example": { admins: [], registration: { enabled: false, perHourPerAddress: 5 } },
    });
    expect(() => loadConfig(file(`{ "hosts": { "b.example": { "admin": [] } } }`), {})).toThrow(/^hosts: b\.example\.admin: unknown option \(known here: admins, registration\)/);
    expect(() => loadConfig(file(`{ "hosts": { "b.example": { "registration": { "open": true } } } }`), {})).toThrow(/^hosts: b\.example\.registration\.open: unknown option/);
    expect(() => loadConfig(file(`{ "hosts": { "alice@b.example": {} } }`), {})).toThrow(/^hosts: alice@b\.example: must be a domain name/);
    expect(() => loadConfig(file(`{ "hosts": { "b.example": {}, "B.EXAMPLE": {} } }`), {})).toThrow(/^hosts: B\.EXAMPLE: listed twice/);
    expect(() => loadConfig(file(`{ "hosts": ["b.example"] }`), {})).toThrow(/^hosts: must be a map/);
    // From the environment: the map's JSON text, its values read as from a file.
    const env = loadConfig(undefined, { XMPPD_HOSTS: `{"b.example": {"registration": {"enabled": "yes"}}}` }).server;
    expect(env.hosts["b.example"]!.registration.enabled).toBe(true);
  });

  it("names an unknown key", () => {
    expect(() => loadConfig(file(`{ "c2s": { "prot": 1 } }`), {})).toThrow(/^c2s\.prot: unknown option/);
  });

  it("names a key with a bad value", () => {
    expect(() => loadConfig(file(`{ "c2s": { "port": "x" } }`), {})).toThrow("c2s.port: must be an integer");
    expect(() => loadConfig(file(`{ "c2s": { "port": 70000 } }`), {})).toThrow("c2s.port: must be between 0 and 65535");
    expect(() => loadConfig(file(`{ "log": { "level": "loud" } }`), {})).toThrow(/^log\.level: must be one of/);
  });

  it("says when the file is not JSON", () => {
    expect(() => loadConfig(file(`{ domain: x }`), {})).toThrow(/not valid JSON/);
  });

  it("reads the cluster section: absent by default (a single node), a Redis URL and a node name when set", () => {
    const d = loadConfig(undefined, {}).server.cluster;
    expect(d).toEqual({ redis: undefined, node: undefined, prefix: "xmppd:", ackTimeout: 2000, heartbeat: 1000 });
    const c = loadConfig(file(`{ "cluster": { "redis": "redis://127.0.0.1:16379/0", "node": "a" } }`), { XMPPD_CLUSTER__NODE: "b" }).server.cluster;
    expect(c.redis).toBe("redis://127.0.0.1:16379/0");
    expect(c.node).toBe("b");
    expect(() => loadConfig(file(`{ "cluster": { "redis": "x", "nodes": 2 } }`), {})).toThrow(/cluster\.nodes/);
  });

  it("lets the environment override the file", () => {
    const c = loadConfig(file(`{ "domain": "a.example", "c2s": { "port": 1 } }`), {
      XMPPD_DOMAIN: "b.example", XMPPD_C2S__PORT: "5333", XMPPD_C2S__REQUIRE_TLS: "false", XMPPD_ADMINS: "x@b.example, y@b.example",
    }).server;
    expect(c.domain).toBe("b.example");
    expect(c.c2s.port).toBe(5333);
    expect(c.c2s.requireTls).toBe(false);
    expect(c.admins).toEqual(["x@b.example", "y@b.example"]);
  });

  it("rejects an unknown environment option", () => {
    expect(() => loadConfig(undefined, { XMPPD_C2S__PROT: "1" })).toThrow(/XMPPD_C2S__PROT/);
  });

  it("leaves the service scripts' variables alone (a server the tests start inherits them)", () => {
    const c = loadConfig(undefined, { XMPPD_REDIS_PORT: "26379", XMPPD_CASSANDRA_PORT: "29042", XMPPD_SERVICES_DIR: "/tmp/s", XMPPD_S3_PORT: "29000", XMPPD_C2S__PORT: "5333" }).server;
    expect(c.c2s.port).toBe(5333);
  });

  it("takes module options from XMPPD_MODULES__* over the file's, for the module's schema to read at start", () => {
    const p = file(`{ "modules": { "upload": { "storage": "s3", "s3": { "bucket": "from-file", "region": "eu-west-1" } } } }`);
    const c = loadConfig(p, { XMPPD_MODULES__UPLOAD__S3__BUCKET: "from-env", XMPPD_MODULES__UPLOAD__MAX_FILE_SIZE: "1000" });
    expect(c.modules).toEqual({ upload: { storage: "s3", maxFileSize: "1000", s3: { bucket: "from-env", region: "eu-west-1" } } });
    expect(c.modulesFromEnv).toBe(true);
    expect(loadConfig(p, {}).modulesFromEnv).toBe(false);
  });

  it("reads the external components (XEP-0114): none and a loopback listener by default; domains normalised, secrets of 16 characters or more", () => {
    const d = loadConfig(undefined, {}).server;
    expect(d.components).toEqual([]);
    expect(d.component.host).toBe("127.0.0.1");
    expect(d.component.port).toBe(5347);
    expect(d.component.onConflict).toBe("refuse");
    const secret = "0123456789abcdef";
    const c = loadConfig(file(`{ "components": [{ "domain": "IRC.Example.org.", "secret": "${secret}" }] }`), {}).server;
    expect(c.components).toEqual([{ domain: "irc.example.org", secret }]);
    const fromEnv = loadConfig(undefined, { XMPPD_COMPONENTS: JSON.stringify([{ domain: "slidge.example.org", secret }]) }).server;
    expect(fromEnv.components).toEqual([{ domain: "slidge.example.org", secret }]);
    const bad = (list: string) => () => loadConfig(file(`{ "components": ${list} }`), {});
    expect(bad(`[{ "domain": "a.example.org", "secret": "short" }]`)).toThrow("components: [0].secret: must be a string of 16 characters or more");
    expect(bad(`[{ "domain": "a.example.org", "secret": "${secret}" }, { "domain": "A.example.org", "secret": "${secret}" }]`))
      .toThrow("components: [1].domain: a.example.org is listed twice");
    expect(bad(`[{ "domain": "user@a.example.org", "secret": "${secret}" }]`)).toThrow("components: [0].domain: must be a domain name");
    expect(bad(`[{ "domain": "a.example.org", "secret": "${secret}", "port": 1 }]`)).toThrow("components: [0].port: unknown option");
    expect(bad(`{ "domain": "a.example.org" }`)).toThrow("components: must be a list of {domain, secret}");
    expect(() => loadConfig(undefined, { XMPPD_COMPONENTS: "[{" })).toThrow("components: must be a list of {domain, secret} (JSON, from the environment)");
  });

  it("strips comments but not comment-like text in strings", () => {
    expect(JSON.parse(stripJsonComments(`{ "a": "http://x/*y*/", // c\n "b": 1, /* d */ }`))).toEqual({ a: "http://x/*y*/", b: 1 });
  });
});
