import { configDefaults, defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    testTimeout: 20_000,
    hookTimeout: 30_000,
    // Integration tests bind loopback ports; files run in parallel workers, each on its own ports.
    pool: "forks",
    // Two groups, one after the other (sequence.groupOrder; 0 would put a one-worker project last).
    projects: [
      { extends: true, test: { name: "main", sequence: { groupOrder: 1 }, include: ["src/**/*.test.ts", "test/**/*.test.ts"], exclude: [...configDefaults.exclude, "test/chaos/**"] } },
      // Real processes killed, services stopped, a network cut (test/chaos/): after everything
      // else, one file at a time, since they measure waits that other load would stretch.
      { extends: true, test: { name: "chaos", sequence: { groupOrder: 2 }, include: ["test/chaos/**/*.test.ts"], fileParallelism: false } },
    ],
  },
});
