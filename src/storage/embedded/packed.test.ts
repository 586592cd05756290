import { describe, expect, it } from "vitest";
import { joinRows } from "./batch.ts";
import { BufferPool, PackedRows } from "./packed.ts";

const entry = (i: number, value: string) => ({ owner: `u${i % 7}@localhost`, id: `id${i}`, at: 1_700_000_000_000 + i, with: `u${(i + 1) % 7}@localhost/r`, value, expires: i % 2 ? 0 : 1_800_000_000_000 });

describe("packed rows", () => {
  it("are the UTF-8 bytes of the values joined by NUL, as joinRows makes them, through growth of their buffer", () => {
    const pool = new BufferPool();
    const rows = new PackedRows("mam", pool);
    const values: (string | number)[] = [];
    for (let i = 0; i < 500; i++) {
      const e = entry(i, i % 3 === 0 ? `<m>${"ü🙂".repeat(i * 7)}</m>` : `<m>${i}</m>`);
      rows.add(e);
      values.push("mam", e.owner, e.id, e.at, e.with, e.with.split("/")[0]!, e.value, e.expires);
    }
    expect(rows.size).toBe(500);
    expect(new TextDecoder().decode(rows.bytes())).toBe(joinRows(values));
    expect([...rows.owners].sort()).toEqual(Array.from({ length: 7 }, (_, i) => `u${i}@localhost`));
  });

  it("give their buffer back to the pool when released, for the next batch", () => {
    const pool = new BufferPool(2);
    const a = new PackedRows("mam", pool);
    a.add(entry(1, "<m/>"));
    expect(pool.size).toBe(0);
    a.release();
    expect(pool.size).toBe(1);
    const b = new PackedRows("mam", pool);
    b.add(entry(2, "<m/>"));
    expect(pool.size).toBe(0); // reused
    expect(new TextDecoder().decode(b.bytes()).split("\0")).toHaveLength(8);
    const bytes = b.bytes();
    b.release();
    expect(bytes.buffer.byteLength).toBe(bytes.length); // a copy of its own size, to move to the writer
  });

  it("let a buffer grown past 4 MiB go instead of keeping it", () => {
    const pool = new BufferPool();
    const big = new PackedRows("mam", pool);
    big.add(entry(1, `<m>${"x".repeat(2_000_000)}</m>`)); // room for three bytes a character: 6 MB
    big.release();
    expect(pool.size).toBe(0);
    const small = new PackedRows("mam", pool);
    small.add(entry(2, "<m/>"));
    small.release();
    expect(pool.size).toBe(1);
  });
});
