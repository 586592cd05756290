// The Cassandra backend's options and their parsers, apart from the driver so that the
// configuration (and `xmppd check`) does not load cassandra-driver.
import { KEYSPACE_NAME } from "./schema.ts";

export const CONSISTENCIES = ["LOCAL_QUORUM", "QUORUM", "EACH_QUORUM", "LOCAL_ONE", "ONE", "TWO", "THREE", "ALL"] as const;
export type Consistency = (typeof CONSISTENCIES)[number];

export interface CassandraOptions {
  /** "host" or "host:port" of one or more nodes; the driver finds the rest of the cluster. */
  contactPoints: string[];
  /** The data centre whose nodes serve this server (LOCAL_* consistencies count in it). */
  localDataCenter: string;
  keyspace: string;
  /** The keyspace's replication map, e.g. { class: "NetworkTopologyStrategy", dc1: 3 }. */
  replication: Record<string, string | number>;
  consistency?: Consistency;
}

/**
 * The native port the contact points name ("host:port", "[v6]:port") when they all name the same
 * one. The driver finds the other nodes in system.peers, which has their addresses and not their
 * ports: it reaches them at its own port setting, 9042 unless told this one.
 */
export function nativePort(contactPoints: readonly string[]): number | undefined {
  const ports = new Set(contactPoints.map((p) => /^(?:\[[^\]]*\]|[^:]*):(\d{1,5})$/.exec(p)?.[1]));
  const [port] = ports;
  return ports.size === 1 && port !== undefined ? Number(port) : undefined;
}

/** A keyspace name from the configuration. Throws a message. */
export function parseKeyspace(raw: unknown): string {
  if (typeof raw !== "string" || !KEYSPACE_NAME.test(raw)) throw `must be lower-case letters, digits and _, starting with a letter (48 at most)`;
  return raw;
}

/**
 * A replication map from the configuration: an object, or the CQL map literal an operator copies
 * from cqlsh ("{'class': 'SimpleStrategy', 'replication_factor': 1}"). Throws a message.
 */
export function parseReplication(raw: unknown): Record<string, string | number> {
  let v = raw;
  if (typeof v === "string") {
    try {
      v = JSON.parse(v.replace(/'/g, '"'));
    } catch {
      throw `must be a map such as {'class': 'NetworkTopologyStrategy', 'datacenter1': 3}`;
    }
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw `must be a map of strings and numbers`;
  const out: Record<string, string | number> = {};
  for (const [k, x] of Object.entries(v)) {
    if (typeof x !== "string" && typeof x !== "number") throw `${k} must be a string or a number`;
    out[k] = x;
  }
  if (out.class !== "SimpleStrategy" && out.class !== "NetworkTopologyStrategy") throw `class must be SimpleStrategy or NetworkTopologyStrategy`;
  return out;
}
