// README.md and docs/ as a reader follows them: every relative link leads to a file or folder of
// the repository, and every #anchor to a heading of the page it names (GitHub's heading ids).
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "..");
const pages = ["README.md", ...readdirSync(join(root, "docs")).filter((f) => f.endsWith(".md")).map((f) => join("docs", f))];

/** The id GitHub gives a heading: lower case, punctuation dropped, spaces as hyphens. */
function slug(heading: string): string {
  return heading.trim().toLowerCase().replace(/[^\p{L}\p{N} _-]/gu, "").replace(/ /g, "-");
}

function anchors(file: string): Set<string> {
  const text = readFileSync(file, "utf8").replace(/```[\s\S]*?```/g, "");
  return new Set([...text.matchAll(/^#{1,6} (.+)$/gm)].map((m) => slug(m[1]!)));
}

/** The relative links of a page, outside code blocks: [text](target). */
function links(file: string): string[] {
  const text = readFileSync(file, "utf8").replace(/```[\s\S]*?```/g, "");
  return [...text.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]!).filter((t) => !/^[a-z]+:/.test(t));
}

describe("README.md and docs/", () => {
  it("have the pages the README links to: design, benchmark, cluster, development", () => {
    const readme = links(join(root, "README.md"));
    for (const page of ["docs/design.md", "docs/benchmark.md", "docs/cluster.md", "docs/development.md"]) expect(readme).toContain(page);
  });

  for (const page of pages) {
    it(`${page}: every relative link and anchor resolves`, () => {
      const from = join(root, page);
      for (const link of links(from)) {
        const [path, anchor] = link.split("#") as [string, string | undefined];
        const target = path === "" ? from : join(dirname(from), path);
        expect(existsSync(target), `${page} links to ${link}`).toBe(true);
        if (anchor !== undefined && statSync(target).isFile()) {
          expect(anchors(target).has(anchor), `${page} links to #${anchor} of ${relative(root, target)}`).toBe(true);
        }
      }
    });
  }
});
