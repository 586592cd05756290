// A typed option schema: each module declares its options once; the same declaration validates
// the config at start (unknown keys rejected, errors name the key) and generates the docs.

export interface Field<T> {
  readonly kind: string;
  readonly doc: string;
  readonly default: T | undefined;
  /** Returns the parsed value or throws a message (without the key; the caller adds it). */
  parse(raw: unknown, fromEnv: boolean): T;
  /** Optional fields may be left out and have no default. */
  readonly optional: boolean;
}

export type Shape = Record<string, Field<unknown>>;
export type Infer<S extends Shape> = { [K in keyof S]: S[K] extends Field<infer T> ? T : never };

export class ConfigError extends Error {}

function field<T>(kind: string, doc: string, def: T | undefined, optional: boolean,
  parse: (raw: unknown, fromEnv: boolean) => T): Field<T> {
  return { kind, doc, default: def, optional, parse };
}

export function str(doc: string, def?: string): Field<string> {
  return field("string", doc, def, false, (raw) => {
    if (typeof raw !== "string") throw `must be a string`;
    return raw;
  });
}

export function optStr(doc: string): Field<string | undefined> {
  return field<string | undefined>("string", doc, undefined, true, (raw) => {
    if (raw === undefined || raw === null || raw === "") return undefined;
    if (typeof raw !== "string") throw `must be a string`;
    return raw;
  });
}

export function int(doc: string, def: number, min = 0, max = Number.MAX_SAFE_INTEGER): Field<number> {
  return field("integer", doc, def, false, (raw, fromEnv) => {
    const v = fromEnv && typeof raw === "string" && raw.trim() !== "" ? Number(raw) : raw;
    if (typeof v !== "number" || !Number.isInteger(v)) throw `must be an integer`;
    if (v < min || v > max) throw `must be between ${min} and ${max}`;
    return v;
  });
}

export function bool(doc: string, def: boolean): Field<boolean> {
  return field("boolean", doc, def, false, (raw, fromEnv) => {
    if (fromEnv && typeof raw === "string") {
      if (/^(1|true|yes|on)$/i.test(raw)) return true;
      if (/^(0|false|no|off)$/i.test(raw)) return false;
    }
    if (typeof raw !== "boolean") throw `must be true or false`;
    return raw;
  });
}

export function oneOf<const T extends string>(doc: string, values: readonly T[], def: T): Field<T> {
  return field("one of " + values.join(" | "), doc, def, false, (raw) => {
    if (typeof raw !== "string" || !(values as readonly string[]).includes(raw)) {
      throw `must be one of ${values.join(", ")}`;
    }
    return raw as T;
  });
}

export function strList(doc: string, def: string[]): Field<string[]> {
  return field("list of strings", doc, def, false, (raw, fromEnv) => {
    const v = fromEnv && typeof raw === "string" ? raw.split(",").map((s) => s.trim()).filter(Boolean) : raw;
    if (!Array.isArray(v) || v.some((x) => typeof x !== "string")) throw `must be a list of strings`;
    return v as string[];
  });
}

/** A field read by a parser of its own (one that throws a message), such as a storage backend's. */
export function custom<T>(kind: string, doc: string, def: T, parse: (raw: unknown) => T): Field<T> {
  return field(kind, doc, def, false, parse);
}

/** A nested section. Its own keys are validated the same way. */
export function section<S extends Shape>(doc: string, shape: S): Field<Infer<S>> & { shape: S } {
  return {
    ...field<Infer<S>>("section", doc, undefined, false, (raw, fromEnv) => parseShape(shape, raw, "", fromEnv)),
    shape,
  };
}

/**
 * A map of names to entries of one shape, each validated as a section is (unknown keys rejected,
 * errors naming `<path>.<name>.<key>`); `key` normalises and checks a name (throws a message).
 * From the environment the map comes as its JSON text.
 */
export function mapOf<S extends Shape>(doc: string, placeholder: string, entry: S, key: (name: string) => string): Field<Record<string, Infer<S>>> & { entry: S; placeholder: string } {
  const parse = (raw: unknown, fromEnv: boolean): Record<string, Infer<S>> => {
    let v = raw;
    if (typeof v === "string") {
      try {
        v = JSON.parse(v);
      } catch {
        throw "must be a map (JSON, from the environment)";
      }
    }
    if (typeof v !== "object" || v === null || Array.isArray(v)) throw "must be a map";
    const out: Record<string, Infer<S>> = {};
    for (const [name, value] of Object.entries(v as Record<string, unknown>)) {
      let k: string;
      try {
        k = key(name);
      } catch (e) {
        throw `${name}: ${typeof e === "string" ? e : (e as Error).message}`;
      }
      if (k in out) throw `${name}: listed twice`;
      try {
        out[k] = parseShape(entry, value, "", fromEnv || typeof raw === "string");
      } catch (e) {
        throw `${name}.${(e as Error).message}`;
      }
    }
    return out;
  };
  return { ...field<Record<string, Infer<S>>>("map", doc, {}, false, parse), entry, placeholder };
}

function isMap(f: Field<unknown>): f is Field<unknown> & { entry: Shape; placeholder: string } {
  return (f as { entry?: Shape }).entry !== undefined;
}

function isSection(f: Field<unknown>): f is Field<unknown> & { shape: Shape } {
  return (f as { shape?: Shape }).shape !== undefined;
}

/** Validates raw (from JSON) against a shape. Errors name the full dotted key. */
export function parseShape<S extends Shape>(shape: S, raw: unknown, path = "", fromEnv = false): Infer<S> {
  const obj = raw ?? {};
  if (typeof obj !== "object" || Array.isArray(obj)) throw new ConfigError(`${path || "config"}: must be an object`);
  const rec = obj as Record<string, unknown>;
  for (const key of Object.keys(rec)) {
    if (!(key in shape)) {
      const known = Object.keys(shape).join(", ");
      throw new ConfigError(`${path}${key}: unknown option (known here: ${known})`);
    }
  }
  const out: Record<string, unknown> = {};
  for (const [key, f] of Object.entries(shape)) {
    const at = path + key;
    const v = rec[key];
    if (isSection(f)) {
      out[key] = parseShape(f.shape, v, at + ".", fromEnv);
      continue;
    }
    if (v === undefined) {
      if (f.default === undefined && !f.optional) throw new ConfigError(`${at}: required`);
      out[key] = f.default;
      continue;
    }
    try {
      out[key] = f.parse(v, fromEnv);
    } catch (e) {
      throw new ConfigError(`${at}: ${typeof e === "string" ? e : (e as Error).message}`);
    }
  }
  return out as Infer<S>;
}

/** Text in a markdown table cell: a '|' would end the cell, and a '<' start an HTML tag (an XML element named in the text). */
function cell(text: string): string {
  return text.replace(/[|<]/g, "\\$&");
}

/** Code in a markdown table cell: there a '|' still ends the cell, and a backslash shows. */
function codeCell(text: string): string {
  return `\`${text.replaceAll("|", "\\|")}\``;
}

/** Markdown reference for a shape, generated from the same declarations that validate. */
export function documentShape(shape: Shape, path = ""): string[] {
  const lines: string[] = [];
  for (const [key, f] of Object.entries(shape)) {
    if (isSection(f)) {
      lines.push(`| \`${path}${key}\` | section | | ${cell(f.doc)} |`);
      lines.push(...documentShape(f.shape, `${path}${key}.`));
    } else if (isMap(f)) {
      lines.push(`| \`${path}${key}\` | map | \`{}\` | ${cell(f.doc)} |`);
      lines.push(...documentShape(f.entry, `${path}${key}.<${f.placeholder}>.`));
    } else {
      const def = f.default === undefined ? "" : codeCell(JSON.stringify(f.default));
      lines.push(`| \`${path}${key}\` | ${cell(f.kind)} | ${def} | ${cell(f.doc)} |`);
    }
  }
  return lines;
}
