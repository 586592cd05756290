// Readiness (/ready): whether this node can take clients now. Not while it drains (a deploy's
// SIGTERM: its load balancer should send new clients elsewhere at once); not while its storage
// does not answer a read; in a cluster, not while Redis does not answer a PING (sessions and
// routing live there). Each probe gets `timeoutMs`; probes that arrive together share one check,
// so a load balancer's health checks cannot pile reads up on a struggling store.
import type { Readiness } from "./endpoint.ts";

export interface ReadinessSource {
  /** The server is stopping and takes no new clients. */
  draining(): boolean;
  /** A read that reaches the storage backend. */
  probeStorage(): Promise<unknown>;
  /** Redis's PING in a cluster; undefined on a single node. */
  probeRedis(): Promise<unknown> | undefined;
}

/** Rejects with "no answer in N ms" unless `p` settles first. */
function within<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer in ${ms} ms`)), ms)));
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

export function readiness(src: ReadinessSource, timeoutMs: number): Readiness {
  let running: Promise<string | undefined> | undefined;
  const check = async (): Promise<string | undefined> => {
    if (src.draining()) return "draining";
    try {
      await within(src.probeStorage(), timeoutMs);
    } catch (e) {
      return `storage: ${(e as Error).message}`;
    }
    const redis = src.probeRedis();
    if (redis !== undefined) {
      try {
        await within(redis, timeoutMs);
      } catch (e) {
        return `redis: ${(e as Error).message}`;
      }
    }
    return src.draining() ? "draining" : undefined;
  };
  return () => {
    running ??= check().finally(() => (running = undefined));
    return running;
  };
}
