// XEP-0202: Entity Time of the server (UTC, XEP-0082 profiles).
import { xml } from "../xml/element.ts";
import { NS } from "../xml/ns.ts";
import { defineModule } from "../core/module.ts";

export function utcStamp(d = new Date()): string {
  return d.toISOString().replace(/\.\d{3}Z$/, "Z");
}

export default defineModule({
  name: "time",
  specs: [{ spec: "XEP-0202", version: "2.0" }, { spec: "XEP-0082", version: "1.1.1" }],
  setup(ctx) {
    ctx.feature(NS.time);
    ctx.iq("host", NS.time, "time", {
      get: () => xml("time", { xmlns: NS.time }, xml("tzo", null, "+00:00"), xml("utc", null, utcStamp())),
    });
  },
});
