import { describe, expect, it } from "vitest";
import { StanzaError } from "../../core/errors.ts";
import { applyConfig, configForm, DEFAULT_CONFIG, itemLimit, unmetPrecondition, type NodeConfig } from "./config.ts";

const fields = (o: Record<string, string | string[]>) => new Map(Object.entries(o).map(([k, v]) => [k, Array.isArray(v) ? v : [v]]));

describe("node configuration (XEP-0060 §16.4.4)", () => {
  it("reads submitted values into the typed config", () => {
    const c = applyConfig(DEFAULT_CONFIG, fields({
      FORM_TYPE: "http://jabber.org/protocol/pubsub#node_config", "pubsub#access_model": "open", "pubsub#max_items": "max",
      "pubsub#persist_items": "true", "pubsub#notify_retract": "0", "pubsub#send_last_published_item": "never",
    }), 100) as NodeConfig;
    expect(c).toMatchObject({ access: "open", maxItems: "max", persist: true, notifyRetract: false, sendLast: "never" });
    expect(itemLimit(c, 100)).toBe(100);
    expect(DEFAULT_CONFIG.access).toBe("presence");
  });

  it.each([
    ["an unknown field", { "pubsub#bogus": "1" }],
    ["an unknown access model", { "pubsub#access_model": "authorize" }],
    ["max_items above the limit", { "pubsub#max_items": "101" }],
    ["max_items zero", { "pubsub#max_items": "0" }],
    ["a boolean that is not one", { "pubsub#persist_items": "yes" }],
  ])("refuses %s: not-acceptable", (_w, f) => {
    const r = applyConfig(DEFAULT_CONFIG, fields(f), 100);
    expect(r).toBeInstanceOf(StanzaError);
    expect((r as StanzaError).condition).toBe("not-acceptable");
  });

  it("writes a form with the node's values", () => {
    const form = configForm({ ...DEFAULT_CONFIG, access: "open" });
    const value = (v: string) => form.getChildren("field").find((f) => f.attrs.var === v)?.getChildText("value");
    expect(value("FORM_TYPE")).toBe("http://jabber.org/protocol/pubsub#node_config");
    expect(value("pubsub#access_model")).toBe("open");
    expect(value("pubsub#max_items")).toBe("1");
  });
});

describe("publish-options as preconditions (XEP-0223, XEP-0060 §7.1.5)", () => {
  const open: NodeConfig = { ...DEFAULT_CONFIG, access: "open", maxItems: "max" };
  it("holds when every option equals the node's value, in any spelling", () => {
    expect(unmetPrecondition(open, fields({ "pubsub#access_model": "open", "pubsub#persist_items": "true", "pubsub#max_items": "max" }), 100)).toBeUndefined();
    expect(unmetPrecondition({ ...open, maxItems: 100 }, fields({ "pubsub#max_items": "max" }), 100)).toBeUndefined();
  });
  it("names the first option that differs, or that the node does not have", () => {
    expect(unmetPrecondition(DEFAULT_CONFIG, fields({ "pubsub#access_model": "open" }), 100)).toBe("pubsub#access_model");
    expect(unmetPrecondition(open, fields({ "pubsub#max_items": "1" }), 100)).toBe("pubsub#max_items");
    expect(unmetPrecondition(open, fields({ "pubsub#bogus": "1" }), 100)).toBe("pubsub#bogus");
    expect(unmetPrecondition(open, fields({ "pubsub#access_model": "nonsense" }), 100)).toBe("pubsub#access_model");
  });
});
