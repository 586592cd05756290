// coturn's own test client, turnutils_uclient (Debian package coturn), run against the coturn of
// scripts/services/coturn.sh: it asks for a relay (TURN Allocate, RFC 5766 §6) with the
// credentials it is given, and prints "Received relay addr: <ip:port>" when the server grants
// one, or "Cannot complete Allocation" when the server keeps refusing (401 for bad credentials).
import { spawn } from "node:child_process";
import { services } from "./services.ts";

export interface Allocation {
  /** The relayed transport address coturn allocated, or undefined when it refused. */
  relay: string | undefined;
  /** What the client printed, for the failure message. */
  output: string;
}

/**
 * Allocates a relay over UDP, TCP or TLS with these credentials, and stops the client as soon as
 * the relay is granted (it would go on exchanging test packets through it for seconds).
 */
export function allocate(username: string, password: string, over: "udp" | "tcp" | "tls", timeoutMs = 15_000): Promise<Allocation> {
  const { host, port, tlsPort } = services.coturn;
  const transport = over === "udp" ? [] : over === "tcp" ? ["-t"] : ["-t", "-S"];
  // -y: two clients relay to each other (no peer to run); -n 1: one packet each.
  const args = ["-v", ...transport, "-y", "-n", "1", "-l", "50", "-p", String(over === "tls" ? tlsPort : port), "-u", username, "-w", password, host];
  return new Promise((resolve, reject) => {
    const child = spawn("turnutils_uclient", args, { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    let settled = false;
    const finish = (relay: string | undefined) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.kill("SIGKILL");
      resolve({ relay, output });
    };
    const timer = setTimeout(() => finish(undefined), timeoutMs);
    const read = (chunk: Buffer) => {
      output += chunk.toString();
      const m = /Received relay addr: (\S+)/.exec(output);
      if (m) finish(m[1]);
    };
    child.stdout.on("data", read);
    child.stderr.on("data", read);
    child.on("error", (err) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(new Error(`turnutils_uclient: ${err.message} (Debian package coturn: bash scripts/services/coturn.sh start installs it)`));
    });
    child.on("close", () => finish(undefined));
  });
}
