// The embedded store's writer thread: the only connection that writes. The event loop posts
// batches of operations; each time this thread is free it takes every batch waiting for it
// (receiveMessageOnPort drains the queue without yielding), runs them as one transaction and
// answers once the commit has reached the disk. While it waits on that fsync the server goes on,
// and what arrives meanwhile joins the next commit.
import { readlinkSync } from "node:fs";
import { setPriority } from "node:os";
import { parentPort, receiveMessageOnPort, workerData } from "node:worker_threads";
import { DatabaseSync } from "node:sqlite";
import { BatchRunner, PRAGMAS, WAL_CHECKPOINT_PAGES, type Operation } from "./batch.ts";

export interface WriterRequest { readonly ops: readonly Operation[] }
export type WriterMessage = WriterRequest | { readonly close: true };

const port = parentPort;
if (!port) throw new Error("writer.ts runs as a worker thread");

/**
 * The writer's niceness (Linux: per thread). The server runs one process per core, so the
 * writer and the event loop take turns on it, and a commit of a few milliseconds of CPU held a
 * message that arrived meanwhile until the scheduler's next turn: the one-to-one p99 at 2,000
 * msg/s. Niced, the writer gives way the moment the event loop has work; while the event loop
 * has none it runs as before, and a writer that falls behind fills the archive's queue, whose
 * bound slows the senders until it catches up.
 */
const WRITER_NICE = 10;

/** Lowers this thread's priority, where the system lets a thread have its own (/proc/thread-self). */
function giveWay(): void {
  try {
    const tid = Number(readlinkSync("/proc/thread-self").split("/").pop());
    if (Number.isInteger(tid) && tid > 0) setPriority(tid, WRITER_NICE);
  } catch {
    // Not Linux, or not allowed: the writer keeps the process's priority.
  }
}
giveWay();
const db = new DatabaseSync((workerData as { path: string }).path);
db.exec(PRAGMAS);
db.exec(`PRAGMA wal_autocheckpoint=${WAL_CHECKPOINT_PAGES}`);
const runner = new BatchRunner(db);

port.on("message", (first: WriterMessage) => {
  const ops: Operation[] = [];
  let closing = false;
  for (let m: WriterMessage | undefined = first; m; m = (receiveMessageOnPort(port)?.message as WriterMessage | undefined)) {
    if ("close" in m) closing = true;
    else for (const op of m.ops) ops.push(op);
  }
  if (ops.length > 0) port.postMessage(runner.runBatch(ops));
  if (closing) {
    db.close();
    port.close();
  }
});
