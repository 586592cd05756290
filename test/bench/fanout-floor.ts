// The floor under the groups row's "p99 to the last occupant": one message written to each of N
// loopback TCP connections by a process pinned to core 0 (where the server runs in the benchmark),
// read by this process on core 1 (where the generator runs), with no XMPP in between; time from
// the order to the last read, 10 rounds a second, as the groups row measures. What is left of the
// row's figure above this one is the server's.
//   node test/bench/fanout-floor.ts [N=500] [rounds=200]
import net from "node:net";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const n = Number(process.argv[2] ?? 500);
const rounds = Number(process.argv[3] ?? 200);

function stanza(id: string): string {
  return `<message from='room@muc.localhost/n0' to='u@localhost/muc' type='groupchat' id='${id}'><body>0:${id}</body>` +
    `<stanza-id xmlns='urn:xmpp:sid:0' by='room@muc.localhost' id='0000000000000000'/></message>`;
}

/** The writing side: the first connection gives the orders, the others get the copies. */
function writer(port: number): void {
  const socks: net.Socket[] = [];
  const srv = net.createServer((s) => {
    s.setNoDelay(true);
    if (socks.length === 0) s.on("data", (d) => { for (const x of socks.slice(1)) x.write(stanza(d.toString().trim())); });
    socks.push(s);
    if (socks.length === n + 1) process.send?.("ready");
  });
  srv.listen(port, "127.0.0.1");
}

async function reader(): Promise<void> {
  const port = 31_000 + Math.floor(Math.random() * 1000);
  const child = spawn("taskset", ["-c", "0", process.execPath, fileURLToPath(import.meta.url), String(n), String(rounds), "writer", String(port)],
    { stdio: ["inherit", "inherit", "inherit", "ipc"] });
  const ready = new Promise((r) => child.once("message", r));
  await new Promise((r) => setTimeout(r, 500));
  const ctl = net.connect(port, "127.0.0.1");
  ctl.setNoDelay(true);
  await new Promise((r) => ctl.once("connect", r));
  let got = 0;
  let t0 = 0;
  let done: () => void = () => {};
  const lat: number[] = [];
  for (let i = 0; i < n; i++) {
    net.connect(port, "127.0.0.1").on("data", () => {
      if (++got === n) {
        lat.push(performance.now() - t0);
        done();
      }
    });
  }
  await ready;
  for (let r = 0; r < rounds; r++) {
    got = 0;
    const all = new Promise<void>((res) => (done = res));
    t0 = performance.now();
    ctl.write(`r${r}\n`);
    await all;
    await new Promise((res) => setTimeout(res, 100));
  }
  lat.sort((a, b) => a - b);
  console.log(`${n} connections: to the last, p50 ${lat[Math.floor(rounds / 2)]!.toFixed(2)} ms, p99 ${lat[Math.floor(rounds * 0.99)]!.toFixed(2)} ms`);
  child.kill();
  process.exit(0);
}

if (process.argv[4] === "writer") writer(Number(process.argv[5]));
else await (async () => {
  const { pinSelf } = await import("./lib/proc.ts");
  pinSelf("1");
  await reader();
})();
