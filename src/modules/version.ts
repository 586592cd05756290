// XEP-0092: Software Version of the server.
import { xml } from "../xml/element.ts";
import { NS } from "../xml/ns.ts";
import { defineModule } from "../core/module.ts";
import { bool } from "../core/schema.ts";
import { release } from "node:os";

export const SOFTWARE = { name: "xmppd", version: "0.1.0" };

export default defineModule({
  name: "version",
  specs: [{ spec: "XEP-0092", version: "1.1" }],
  options: { showOs: bool("Include the operating system in the answer.", false) },
  setup(ctx) {
    ctx.feature(NS.version);
    ctx.iq("host", NS.version, "query", {
      get: () => xml("query", { xmlns: NS.version },
        xml("name", null, SOFTWARE.name),
        xml("version", null, SOFTWARE.version),
        ctx.options.showOs ? xml("os", null, `${process.platform} ${release()}`) : undefined),
    });
  },
});
