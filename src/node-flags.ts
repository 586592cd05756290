// The flags of `node` the server runs with, wherever it is started: ./run, npm start, the
// Dockerfile's entry point and the shebang of src/main.ts carry them too (test/launch.test.ts
// keeps them in step), and the benchmark starts ours with them.
//
// V8's young generation: by default it grows to 16 MiB semi-spaces (new space about 100 MiB
// resident) in the first burst of logins and keeps them. Measured with the benchmark (login,
// one-to-one and idle-session rows, one run per size): 4 MiB semi-spaces took RSS per idle
// session at 1k sessions from 32.9 to 7.1 KiB and at 10k from 14.5 to 5.3 KiB, and the p99 at
// 2,000 msg/s after a login storm from 2.5 to 1.2 ms, for about 5% of peak one-to-one
// throughput. Smaller (1 and 2 MiB) promoted more into the old generation and raised the p99.
export const NODE_FLAGS: readonly string[] = ["--max-semi-space-size=4"];
