// The flags of `node` the server runs with, wherever it is started: ./run, npm start, the
// Dockerfile's entry point and the shebang of src/main.ts carry them too (test/launch.test.ts
// keeps them in step), and the benchmark starts ours with them.
//
// V8's young generation: by default it grows to 16 MiB semi-spaces (new space about 100 MiB
// resident) in the first burst of logins and keeps them. Measured with the benchmark (login,
// one-to-one and idle-session rows, one run per size): 4 MiB semi-spaces took RSS per idle
// session at 1k sessions from 32.9 to 7.1 KiB and at 10k from 14.5 to 5.3 KiB, for about 5% of
// peak one-to-one throughput; the p99 at 2,000 msg/s on a fresh server stayed at 0.5-0.8 ms.
// After a login storm and a saturating burst it is 1.2-5 ms with either size: the burst's
// in-flight messages fill the old generation, and its collections' steps are the outliers.
// Smaller semi-spaces (1 and 2 MiB) promoted more and raised that p99 further.
//
// 8 MiB, measured again on the one-to-one row (bare JIDs, archive off, after its saturating
// burst): a scavenge takes the event loop for 0.7-0.9 ms whatever the size, since its cost is
// what survives, not the space; what the size decides is how often. At 4 MiB one came every
// ~75 ms at 2,000 msg/s, so more than 1% of messages arrived during one, and p99 was the
// scavenge: 1.27-1.58 ms in three runs. At 8 MiB, 0.66-1.02 ms; at 16, 0.56 ms, but RSS per idle
// session at 1k sessions rose from 11-15 to 21 KiB. At 8 MiB it stayed within the spread of
// 4 MiB's runs (1k sessions: 10.8-14.5 KiB against 10.6-15.5; 10k: 3.2-7.5 against 5.2-7.5),
// and peak throughput was the same (105-117k msg/s with either).
//
// --single-threaded-gc: V8's collector works on the event loop's thread only, with no helper
// threads for parallel scavenges and concurrent marking. The server is one process per core
// (more cores: more nodes, src/cluster/); on its core, helpers only take turns with the event
// loop, and a message arriving meanwhile waits for a scheduler slice. Measured with the
// one-to-one row, pinned to one core: p99 at 2,000 msg/s 1.16-1.27 ms with helpers, 0.68-0.78
// without (with the archive's linger and the larger WAL of src/storage/embedded/batch.ts), and
// peak throughput up from 19k to 21k msg/s; unpinned on both cores, 22.2k with helpers, 24.6k
// without, p99 0.62 and 0.77 ms.
export const NODE_FLAGS: readonly string[] = ["--max-semi-space-size=8", "--single-threaded-gc"];
