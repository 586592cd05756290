// The limits an import holds each kind of data to: those of the module that keeps it, as the
// configuration sets them, so that an import stores nothing a client could not have stored.
import type { ModuleDefinition } from "../../core/module.ts";
import type { Infer, Shape } from "../../core/schema.ts";
import blocking from "../blocking/index.ts";
import bookmarks from "../bookmarks/index.ts";
import mam from "../mam/index.ts";
import offline from "../offline/index.ts";
import pep from "../pep/index.ts";
import privateStorage from "../private.ts";
import roster from "../roster/index.ts";
import vcard from "../vcard/index.ts";
import type { PieLimits } from "./plan.ts";

/** A loaded module's options; undefined when it is not loaded. */
export type OptionsOf = <S extends Shape>(def: ModuleDefinition<S>) => Infer<S> | undefined;

export function pieLimits(optionsOf: OptionsOf, iterations: number): PieLimits {
  const r = optionsOf(roster);
  const v = optionsOf(vcard);
  const p = optionsOf(privateStorage);
  const e = optionsOf(pep);
  const o = optionsOf(offline);
  const m = optionsOf(mam);
  const b = optionsOf(blocking);
  return {
    iterations,
    roster: r && { maxItems: r.maxItems, maxName: r.maxNameLength, maxGroup: r.maxGroupLength, maxGroups: r.maxGroups },
    vcard: v && { maxSize: v.maxSize },
    private: p && { maxItemSize: p.maxItemSize, maxItems: p.maxItems },
    pep: e && { maxItems: e.maxItems, maxItemSize: e.maxItemSize, maxNodes: e.maxNodes },
    offline: o && { quota: o.quota, expireDays: o.expireDays },
    archive: m && { retention: m.retention },
    blocking: b && { maxItems: b.maxItems },
    bookmarks: optionsOf(bookmarks) !== undefined,
  };
}
