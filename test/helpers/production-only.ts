// Loaded with --import (in NODE_OPTIONS, so worker threads load it too): the process then resolves,
// from the project's own files, only Node's built-in modules and the packages of package.json's
// "dependencies" — what a production install (`npm ci --omit=dev`) has. Anything else (a
// development dependency such as vitest, or a package installed only as another's dependency)
// fails to import, as it would on such an install.
import { readFileSync } from "node:fs";
import { builtinModules, registerHooks } from "node:module";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const root = join(import.meta.dirname, "..", "..");
const ours = pathToFileURL(`${root}/`).href;
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { dependencies: Record<string, string> };
const production = new Set(Object.keys(pkg.dependencies));
const builtins = new Set(builtinModules);

/** The package a bare specifier names ("@scope/name" or "name"); undefined for paths, URLs and "#imports". */
function packageOf(specifier: string): string | undefined {
  if (/^[./#]/.test(specifier) || specifier.includes(":")) return undefined;
  const parts = specifier.split("/");
  return specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0];
}

registerHooks({
  resolve(specifier, context, next) {
    const name = packageOf(specifier);
    const parent = context.parentURL ?? "";
    if (name !== undefined && !builtins.has(name) && !production.has(name) && parent.startsWith(ours) && !parent.includes("/node_modules/")) {
      throw new Error(`${specifier}, imported by ${parent.slice(ours.length)}, is not in package.json's dependencies: a production install does not have it`);
    }
    return next(specifier, context);
  },
});
