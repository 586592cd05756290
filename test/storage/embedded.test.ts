import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll } from "vitest";
import { SqliteStorage } from "../../src/storage/embedded/sqlite.ts";
import { MemoryStorage } from "../../src/storage/memory.ts";
import { storageContract } from "./contract.ts";

const dir = mkdtempSync(join(tmpdir(), "xmppd-store-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

storageContract("embedded sqlite", async () => new SqliteStorage(join(dir, `db${n++}.sqlite`)), async (old) => {
  const path = join(dir, `db${n - 1}.sqlite`);
  await old.close();
  return new SqliteStorage(path);
});
storageContract("memory", async () => new MemoryStorage());
