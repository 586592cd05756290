// Pebble, Let's Encrypt's ACME test server (Debian package pebble), on loopback ports of its own:
// its ACME API over HTTPS with a certificate of the test CA (acme.caFile trusts it), HTTP-01
// challenges fetched from `httpPort` of 127.0.0.1, names resolved through the test's own DNS
// server (its -dnsserver), so that no query leaves the machine. Its issuing root is made anew at
// each start and read from its management API.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { writeFileSync } from "node:fs";
import { get } from "node:https";
import { join } from "node:path";
import { TestPki } from "./pki.ts";
import { freePort } from "./process.ts";

export const pebbleInstalled = spawnSync("pebble", ["-version"]).error === undefined;

export interface Pebble {
  /** The ACME directory URL. */
  directory: string;
  /** The CA of Pebble's own HTTPS certificate (acme.caFile). */
  caFile: string;
  /** The root of the certificates it issues, PEM. */
  root: string;
  /** Lines it wrote (its log). */
  output(): string;
  stop(): Promise<void>;
}

/** GET over HTTPS with the CA given: the body, or a rejection for anything but 200. */
export function httpsGet(url: string, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    get(url, { ca }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (body += d));
      res.on("end", () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`${url}: HTTP ${res.statusCode}`))));
    }).on("error", reject);
  });
}

export async function startPebble(o: { httpPort: number; dnsServer: string }): Promise<Pebble> {
  const pki = new TestPki();
  const own = pki.issue({ cn: "localhost", san: ["DNS:localhost", "IP:127.0.0.1"] });
  const [api, management, tlsPort] = [await freePort(), await freePort(), await freePort()];
  const config = join(pki.dir, "pebble-config.json");
  writeFileSync(config, JSON.stringify({
    pebble: {
      listenAddress: `127.0.0.1:${api}`, managementListenAddress: `127.0.0.1:${management}`,
      certificate: own.certPath, privateKey: own.keyPath, httpPort: o.httpPort, tlsPort,
      ocspResponderURL: "", externalAccountBindingRequired: false,
    },
  }));
  // PEBBLE_VA_NOSLEEP: the checks of challenges at once, not after a random wait of up to 15 s;
  // PEBBLE_AUTHZREUSE=0: every order's names proven again, none taken from an earlier order. It
  // still refuses 5% of good nonces (badNonce), which a client must send again.
  const child: ChildProcess = spawn("pebble", ["-config", config, "-dnsserver", o.dnsServer], {
    env: { ...process.env, PEBBLE_VA_NOSLEEP: "1", PEBBLE_AUTHZREUSE: "0" }, stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout!.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (output += d.toString()));
  const directory = `https://127.0.0.1:${api}/dir`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = once(child, "exit");
      child.kill("SIGTERM");
      await exited;
    }
    pki.remove();
  };
  try {
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`pebble exited: ${output}`);
      try {
        await httpsGet(directory, pki.caPem);
        break;
      } catch (e) {
        if (Date.now() > deadline) throw new Error(`pebble did not answer: ${(e as Error).message}\n${output}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    const root = await httpsGet(`https://127.0.0.1:${management}/roots/0`, pki.caPem);
    return { directory, caFile: pki.caPath, root, output: () => output, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}
