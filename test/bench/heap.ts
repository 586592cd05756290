// Compares two V8 heap snapshots (node --heapsnapshot-signal=SIGUSR2, or writeHeapSnapshot) and
// prints what grew, by constructor, divided by how many sessions were added between them: the
// memory of one idle session, object by object. Run:
//   node test/bench/heap.ts BEFORE.heapsnapshot AFTER.heapsnapshot SESSIONS [top]
import { readFileSync } from "node:fs";

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

/** Total self size and count per "type:name" (objects by constructor, strings, code, ...). */
export function bySize(s: Snapshot): Map<string, { size: number; count: number }> {
  const fields = s.snapshot.meta.node_fields;
  const width = fields.length;
  const iType = fields.indexOf("type");
  const iName = fields.indexOf("name");
  const iSize = fields.indexOf("self_size");
  const types = s.snapshot.meta.node_types[0];
  const out = new Map<string, { size: number; count: number }>();
  for (let i = 0; i < s.nodes.length; i += width) {
    const type = types[s.nodes[i + iType]!]!;
    let name = type === "object" || type === "closure" || type === "native" ? s.strings[s.nodes[i + iName]!]! : `(${type})`;
    if (name.length > 60) name = name.slice(0, 60);
    const key = `${type}:${name}`;
    const e = out.get(key) ?? { size: 0, count: 0 };
    e.size += s.nodes[i + iSize]!;
    e.count++;
    out.set(key, e);
  }
  return out;
}

if (import.meta.main) {
  const [a, b, n, top = "30"] = process.argv.slice(2);
  if (!a || !b || !n) throw new Error("usage: node test/bench/heap.ts BEFORE AFTER SESSIONS [top]");
  const before = bySize(JSON.parse(readFileSync(a, "utf8")) as Snapshot);
  const after = bySize(JSON.parse(readFileSync(b, "utf8")) as Snapshot);
  const sessions = Number(n);
  const rows: [string, number, number][] = [];
  let total = 0;
  for (const [k, v] of after) {
    const w = before.get(k) ?? { size: 0, count: 0 };
    const d = v.size - w.size;
    total += d;
    rows.push([k, d / sessions, (v.count - w.count) / sessions]);
  }
  rows.sort((x, y) => y[1] - x[1]);
  console.log(`JS heap growth per session: ${(total / sessions).toFixed(0)} bytes`);
  console.log("bytes/session  objects/session  type:constructor");
  for (const [k, bytes, count] of rows.slice(0, Number(top))) console.log(`${bytes.toFixed(0).padStart(13)}  ${count.toFixed(2).padStart(15)}  ${k}`);
}
