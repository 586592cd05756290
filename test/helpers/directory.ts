// Waiting for the cluster's shared directory (src/cluster/redis.ts) in tests: a node writes a
// session's entry and publishes the same change to the other nodes in one transaction, so once
// the entry is there the other nodes are about to see it too.
import { Redis } from "ioredis";
import { services } from "./services.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until the directory under `prefix` holds the full JID's session with keys as `has` wants them. */
export async function published(prefix: string, full: string, has: (keys: Record<string, unknown>) => boolean, what: string): Promise<void> {
  const [bare, resource] = full.split("/") as [string, string];
  const r = new Redis(services.redis.port, services.redis.host);
  try {
    for (let t = 0; t < 200; t++) {
      const json = await r.hget(`${prefix}sess:${bare}`, resource);
      if (json !== null && has((JSON.parse(json) as { k?: Record<string, unknown> }).k ?? {})) return;
      await sleep(25);
    }
    throw new Error(`${full}: ${what} never reached the directory`);
  } finally {
    r.disconnect();
  }
}
