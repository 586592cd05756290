import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { DistFiles, takesGzip } from "./files.ts";

const root = mkdtempSync(join(tmpdir(), "xmppd-dist-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("a Converse.js build's files", () => {
  it("are the regular files of known types found at start; links are not followed", () => {
    mkdirSync(join(root, "chunkjs", "locales"), { recursive: true });
    writeFileSync(join(root, "converse.min.js"), "export default 1;");
    writeFileSync(join(root, "chunkjs", "locales", "de.js"), "x");
    writeFileSync(join(root, "README"), "text");
    writeFileSync(join(root, "page.html"), "<p>");
    symlinkSync("/etc/hostname", join(root, "host.js"));
    symlinkSync("/etc", join(root, "etc"));
    const files = new DistFiles(root);
    expect(files.has("converse.min.js")).toBe(true);
    expect(files.has("chunkjs/locales/de.js")).toBe(true);
    for (const name of ["README", "page.html", "host.js", "etc/hostname", "chunkjs", "../converse.min.js"]) expect(files.has(name), name).toBe(false);
    expect(files.size).toBe(2);
    writeFileSync(join(root, "later.js"), "x");
    expect(files.has("later.js")).toBe(false);
  });

  it("go gzipped only to a client whose Accept-Encoding takes gzip", () => {
    expect(takesGzip("gzip, deflate, br")).toBe(true);
    expect(takesGzip("br;q=1.0, gzip;q=0.8")).toBe(true);
    expect(takesGzip("*")).toBe(true);
    expect(takesGzip(undefined)).toBe(false);
    expect(takesGzip("br")).toBe(false);
    expect(takesGzip("gzip;q=0")).toBe(false);
    expect(takesGzip("identity, gzip;q=0.000")).toBe(false);
  });
});
