// XEP-0060 §16.4.4 node configuration (pubsub#node_config) as PEP uses it, and XEP-0223's
// publish-options, which name the same fields as preconditions. Each option reads submitted
// values into one canonical form, so "1" and "true", or "max" and the server's limit, compare
// equal; the typed NodeConfig is what the rest of the module reads. Pure functions, unit-tested.
import type { Element } from "../../xml/element.ts";
import { StanzaError } from "../../core/errors.ts";
import { buildForm, type Field } from "../../core/forms.ts";
import { PUBSUB } from "./ns.ts";

export type AccessModel = "open" | "presence" | "roster" | "whitelist";
export type SendLast = "never" | "on_sub" | "on_sub_and_presence";

export interface NodeConfig {
  readonly title: string;
  readonly access: AccessModel;
  /** pubsub#roster_groups_allowed: the owner's roster groups that may read a "roster" node. */
  readonly rosterGroups: readonly string[];
  /** How many items the node keeps; "max" is the server's limit. */
  readonly maxItems: number | "max";
  readonly persist: boolean;
  readonly sendLast: SendLast;
  readonly notifyRetract: boolean;
  readonly notifyDelete: boolean;
  readonly deliverPayloads: boolean;
  readonly notificationType: "headline" | "normal";
}

/** XEP-0163 §4: PEP nodes default to the presence access model and keep their last item. */
export const DEFAULT_CONFIG: NodeConfig = {
  title: "", access: "presence", rosterGroups: [], maxItems: 1, persist: true, sendLast: "on_sub_and_presence",
  notifyRetract: true, notifyDelete: true, deliverPayloads: true, notificationType: "headline",
};

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

interface Option {
  readonly field: Field & { var: string };
  /** The current value as form values. */
  get(c: NodeConfig): string[];
  /** Sets the submitted values on `c`; returns why not when they are not valid. */
  set(c: Mutable<NodeConfig>, values: readonly string[], limit: number): string | undefined;
}

const bool = (v: string | undefined) => (v === "1" || v === "true" ? true : v === "0" || v === "false" ? false : undefined);
const flag = (b: boolean) => [b ? "1" : "0"];

function boolOption(v: string, label: string, key: "persist" | "notifyRetract" | "notifyDelete" | "deliverPayloads"): Option {
  return {
    field: { type: "boolean", var: v, label },
    get: (c) => flag(c[key]),
    set(c, values) {
      const b = values.length === 1 ? bool(values[0]) : undefined;
      if (b === undefined) return "takes one boolean";
      c[key] = b;
      return undefined;
    },
  };
}

function listOption<T extends string>(v: string, label: string, choices: readonly T[], get: (c: NodeConfig) => T, put: (c: Mutable<NodeConfig>, x: T) => void): Option {
  return {
    field: { type: "list-single", var: v, label, options: choices.map((value) => ({ value })) },
    get: (c) => [get(c)],
    set(c, values) {
      const x = values[0];
      if (values.length !== 1 || !choices.includes(x as T)) return `is one of ${choices.join(", ")}`;
      put(c, x as T);
      return undefined;
    },
  };
}

export const ACCESS_MODELS: readonly AccessModel[] = ["open", "presence", "roster", "whitelist"];

const OPTIONS: readonly Option[] = [
  {
    field: { type: "text-single", var: "pubsub#title", label: "A short name for the node" },
    get: (c) => [c.title],
    set(c, values) {
      if (values.length > 1 || (values[0] ?? "").length > 256) return "is one line of at most 256 characters";
      c.title = values[0] ?? "";
      return undefined;
    },
  },
  listOption("pubsub#access_model", "Who may subscribe and retrieve items", ACCESS_MODELS, (c) => c.access, (c, x) => (c.access = x)),
  {
    field: { type: "list-multi", var: "pubsub#roster_groups_allowed", label: "Roster groups allowed to subscribe (access model roster)" },
    get: (c) => [...c.rosterGroups],
    set(c, values) {
      if (values.length > 64) return "names at most 64 groups";
      c.rosterGroups = [...new Set(values)];
      return undefined;
    },
  },
  {
    field: { type: "text-single", var: "pubsub#max_items", label: "Items the node keeps (a number, or max)" },
    get: (c) => [String(c.maxItems)],
    set(c, values, limit) {
      const v = values[0];
      if (values.length !== 1 || v === undefined) return "takes one value";
      if (v === "max") {
        c.maxItems = "max";
        return undefined;
      }
      const n = /^\d{1,9}$/.test(v) ? Number(v) : NaN;
      if (!(n >= 1 && n <= limit)) return `is max or a number from 1 to ${limit}`;
      c.maxItems = n;
      return undefined;
    },
  },
  boolOption("pubsub#persist_items", "Keep items in storage", "persist"),
  listOption("pubsub#send_last_published_item", "When to send the last published item", ["never", "on_sub", "on_sub_and_presence"] as const,
    (c) => c.sendLast, (c, x) => (c.sendLast = x)),
  boolOption("pubsub#notify_retract", "Notify when items are retracted", "notifyRetract"),
  boolOption("pubsub#notify_delete", "Notify when the node is deleted", "notifyDelete"),
  boolOption("pubsub#deliver_payloads", "Deliver payloads with event notifications", "deliverPayloads"),
  listOption("pubsub#notification_type", "The message type of event notifications", ["headline", "normal"] as const,
    (c) => c.notificationType, (c, x) => (c.notificationType = x)),
];

const BY_VAR = new Map(OPTIONS.map((o) => [o.field.var, o]));

/** The items a node keeps, with "max" resolved to the server's limit. */
export function itemLimit(c: NodeConfig, limit: number): number {
  return c.maxItems === "max" ? limit : Math.min(c.maxItems, limit);
}

/** The configuration form (XEP-0060 §8.2.1), with the node's current values. */
export function configForm(c: NodeConfig): Element {
  return buildForm({
    type: "form", formType: PUBSUB.nodeConfig,
    fields: OPTIONS.map((o) => ({ ...o.field, values: o.get(c) })),
  });
}

/**
 * `base` with the submitted fields applied (XEP-0060 §8.2.3): an unknown field or a value that
 * is not valid is not-acceptable, and nothing changes.
 */
export function applyConfig(base: NodeConfig, fields: ReadonlyMap<string, readonly string[]>, limit: number): NodeConfig | StanzaError {
  const c: Mutable<NodeConfig> = { ...base };
  for (const [name, values] of fields) {
    if (name === "FORM_TYPE") continue;
    const o = BY_VAR.get(name);
    if (!o) return new StanzaError("not-acceptable", `the node has no option ${name}`);
    const bad = o.set(c, values, limit);
    if (bad) return new StanzaError("not-acceptable", `${name} ${bad}`);
  }
  return c;
}

/**
 * XEP-0223 §3 / XEP-0060 §7.1.5: each publish option is a precondition on the existing node's
 * configuration. Returns the first option that differs (after both are read into the same
 * canonical form), or undefined when all hold. An option the node does not have never holds.
 */
export function unmetPrecondition(c: NodeConfig, fields: ReadonlyMap<string, readonly string[]>, limit: number): string | undefined {
  for (const [name, values] of fields) {
    if (name === "FORM_TYPE") continue;
    const o = BY_VAR.get(name);
    if (!o) return name;
    const wanted: Mutable<NodeConfig> = { ...c };
    if (o.set(wanted, values, limit)) return name;
    const a = o.get(wanted);
    const b = o.get(c);
    const same = name === "pubsub#max_items"
      ? itemLimit(wanted, limit) === itemLimit(c, limit)
      : a.length === b.length && a.every((v, i) => v === b[i]);
    if (!same) return name;
  }
  return undefined;
}
