// Long loops over many sessions or contacts (an announcement to every session, presence to a
// roster of thousands) hand the event loop back every so often: a loop that runs for seconds
// holds every other client's stanzas, and a cluster node's heartbeat (src/cluster/), behind it;
// three heartbeats missed and the other nodes take the node for dead and end its sessions.

/** Steps of a long loop between two turns of the event loop. */
export const PACE_EVERY = 256;

/** Resolves after the I/O and timers that are due have run (setImmediate: after the poll phase). */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** For step `i` of a long loop: every PACE_EVERY-th step waits for the next turn, the others go on at once. */
export function pace(i: number, every = PACE_EVERY): Promise<void> | undefined {
  return i > 0 && i % every === 0 ? nextTurn() : undefined;
}
