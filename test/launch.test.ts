// Every way the server is started runs node with the same flags (src/node-flags.ts): ./run, npm
// start and the shebang of src/main.ts (the Dockerfile's entry point: test/docker.test.ts). A
// process started with them really gets the young generation they ask V8 for.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { NODE_FLAGS } from "../src/node-flags.ts";

const root = join(import.meta.dirname, "..");
const read = (f: string) => readFileSync(join(root, f), "utf8");
const flags = NODE_FLAGS.join(" ");

describe("the node flags of every launcher", () => {
  it("./run starts the CLI with them", () => {
    expect(read("run")).toContain(`exec node ${flags} src/main.ts "$@"`);
  });

  it("npm start and the package's bin (the shebang of src/main.ts) carry them", () => {
    const pkg = JSON.parse(read("package.json")) as { scripts: Record<string, string>; bin: Record<string, string> };
    expect(pkg.scripts.start).toBe(`node ${flags} src/main.ts start`);
    expect(read(pkg.bin.xmppd!).split("\n")[0]).toBe(`#!/usr/bin/env -S node ${flags}`);
  });

  it("V8 takes them: the new space stays within 3 semi-spaces of the asked size", () => {
    const semi = Number(/--max-semi-space-size=(\d+)/.exec(flags)![1]);
    const script = "const a=[];for(let i=0;i<3e6;i++){const o={i,s:'x'+i};if(i%100===0)a.push(o)}" +
      "const s=require('v8').getHeapSpaceStatistics().find(x=>x.space_name==='new_space');console.log(s.space_size)";
    const newSpace = Number(execFileSync(process.execPath, [...NODE_FLAGS, "-e", script], { encoding: "utf8" }).trim());
    expect(newSpace).toBeGreaterThan(0);
    expect(newSpace).toBeLessThanOrEqual(3 * semi * 2 ** 20);
  });
});
