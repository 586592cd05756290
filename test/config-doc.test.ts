// The configuration reference (`./run config-doc`) documents the server's schema and every loaded
// module's, from the schemas that validate them, in a markdown table that keeps its shape.
import { describe, expect, it } from "vitest";
import { documentConfig, serverSchema } from "../src/core/config.ts";
import type { Shape } from "../src/core/schema.ts";
import { modules } from "../src/modules/index.ts";

/** Every option's dotted key in a shape, sections and the entries of maps (hosts.<host>.admins) included. */
function keys(shape: Shape, path = ""): string[] {
  return Object.entries(shape).flatMap(([k, f]) => {
    const { shape: inner, entry, placeholder } = f as { shape?: Shape; entry?: Shape; placeholder?: string };
    return [path + k, ...(inner ? keys(inner, `${path}${k}.`) : []), ...(entry ? keys(entry, `${path}${k}.<${placeholder}>.`) : [])];
  });
}

/** The cells of a markdown table row: split at every '|' that is not escaped. */
function cells(row: string): string[] {
  return row.split(/(?<!\\)\|/).slice(1, -1).map((c) => c.trim());
}

describe("config-doc", () => {
  it("documents every option, the modules' included, in a table whose rows keep their four cells", () => {
    const rows = documentConfig(modules).split("\n");
    expect(rows.every((r) => cells(r).length === 4), rows.find((r) => cells(r).length !== 4)).toBe(true);
    const documented = rows.slice(2).map((r) => cells(r)[0]!.replaceAll("`", ""));
    const expected = [...keys(serverSchema), "modules",
      ...modules.filter((m) => m.options && Object.keys(m.options).length > 0).flatMap((m) => [`modules.${m.name}`, ...keys(m.options!, `modules.${m.name}.`)])];
    expect(documented).toEqual(expected);
    expect(expected).toContain("modules.mam.retention");
    expect(expected).toContain("hosts.<host>.registration.enabled");
    expect(expected).toContain("modules.upload.s3.bucket");
    expect(expected).toContain("modules.webclient.path");
    expect(rows.find((r) => r.startsWith("| `log.level`"))).toBe("| `log.level` | one of fatal \\| error \\| warn \\| info \\| debug \\| trace \\| silent | `\"info\"` | Log level. |");
  });

});
