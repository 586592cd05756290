import { describe, expect, it } from "vitest";
import type { ChannelBinding } from "../../transports/transport.ts";
import type { SaslContext } from "./mechanism.ts";
import { mechanismsFor } from "./offer.ts";

const binding: ChannelBinding = { types: () => ["tls-exporter"], data: (t) => (t === "tls-exporter" ? Buffer.from("km") : undefined) };
const noData: ChannelBinding = { types: () => ["tls-unique"], data: () => undefined };

function ctx(secure: boolean, channelBinding?: ChannelBinding): SaslContext {
  return { secure, channelBinding, lookup: async () => undefined };
}

const names = (c: SaslContext, enabled?: string[]) => mechanismsFor(c, enabled).map((m) => m.name);

describe("mechanismsFor", () => {
  it("offers everything, strongest first, on TLS with channel binding", () => {
    expect(names(ctx(true, binding))).toEqual(["SCRAM-SHA-256-PLUS", "SCRAM-SHA-1-PLUS", "SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"]);
  });

  it("drops -PLUS without channel binding data", () => {
    expect(names(ctx(true))).toEqual(["SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"]);
    expect(names(ctx(true, noData))).toEqual(["SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"]);
  });

  it("drops PLAIN without TLS", () => {
    expect(names(ctx(false))).toEqual(["SCRAM-SHA-256", "SCRAM-SHA-1"]);
  });

  it("keeps preference order whatever order the enabled list has", () => {
    expect(names(ctx(true, binding), ["PLAIN", "SCRAM-SHA-1", "SCRAM-SHA-256-PLUS", "X-UNKNOWN"]))
      .toEqual(["SCRAM-SHA-256-PLUS", "SCRAM-SHA-1", "PLAIN"]);
  });
});
