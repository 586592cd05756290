// The embedded store's writer thread: the only connection that writes. The event loop posts
// batches of operations; each time this thread is free it takes every batch waiting for it
// (receiveMessageOnPort drains the queue without yielding), runs them as one transaction and
// answers once the commit has reached the disk. While it waits on that fsync the server goes on,
// and what arrives meanwhile joins the next commit.
import { parentPort, receiveMessageOnPort, workerData } from "node:worker_threads";
import { DatabaseSync } from "node:sqlite";
import { BatchRunner, PRAGMAS, WAL_CHECKPOINT_PAGES, WRITER_CACHE_KIB, type Operation } from "./batch.ts";

export interface WriterRequest { readonly ops: readonly Operation[] }
export type WriterMessage = WriterRequest | { readonly close: true };

const port = parentPort;
if (!port) throw new Error("writer.ts runs as a worker thread");
const db = new DatabaseSync((workerData as { path: string }).path);
db.exec(PRAGMAS);
db.exec(`PRAGMA wal_autocheckpoint=${WAL_CHECKPOINT_PAGES}; PRAGMA cache_size=-${WRITER_CACHE_KIB}`);
// The pause between rows (batch.ts): a wait nobody ends, of 20 µs (the kernel's timer slack
// makes it some 50 µs more), which gives the core to the event loop if it has work.
const nap = new Int32Array(new SharedArrayBuffer(4));
const runner = new BatchRunner(db, () => void Atomics.wait(nap, 0, 0, 0.02));

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
