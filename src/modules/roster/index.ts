// RFC 6121 §2: the roster, with roster versioning (XEP-0237, RFC 6121 §2.6). The subscription
// states it stores are driven by the presence module (RFC 6121 §3), which shares its service.
import { xml } from "../../xml/element.ts";
import { NS } from "../../xml/ns.ts";
import { defineModule } from "../../core/module.ts";
import { StanzaError } from "../../core/errors.ts";
import { int } from "../../core/schema.ts";
import { rosterHandlers } from "./iq.ts";
import { ROSTER, RosterService, rosterStores } from "./service.ts";

export default defineModule({
  name: "roster",
  specs: [{ spec: "RFC 6121", version: "RFC" }, { spec: "XEP-0237", version: "1.3" }],
  options: {
    maxItems: int("Items per roster; adding one more is refused with resource-constraint.", 2000, 1),
    maxNameLength: int("Octets (UTF-8) in an item's name; longer is not-acceptable.", 1023, 1),
    maxGroupLength: int("Octets (UTF-8) in a group name; longer is not-acceptable.", 1023, 1),
    maxGroups: int("Groups per item; more is not-acceptable.", 64, 1),
  },
  setup(ctx) {
    const o = ctx.options;
    const roster = new RosterService(rosterStores(ctx), ctx.sessions);
    ctx.provide(ROSTER, roster);
    ctx.iq("account", NS.roster, "query", rosterHandlers(ctx, roster,
      { maxItems: o.maxItems, maxName: o.maxNameLength, maxGroup: o.maxGroupLength, maxGroups: o.maxGroups }));
    // §2.1.6: a client "MUST ignore" a roster push unless it has no 'from' or comes from the
    // user's bare JID. The server's own pushes are written to the sessions; one routed to a full
    // JID from another entity is forged, and refused before it reaches the resource.
    ctx.handle("iq/full", ({ stanza, from, to }) => {
      if (stanza.attrs.type === "set" && !from.bare.equals(to.bare) && !(from.local === "" && from.domain === to.domain)
        && stanza.getChild("query", NS.roster) !== undefined) throw new StanzaError("service-unavailable");
      return false;
    }, "first");
    ctx.fold("stream/features", (v) => {
      v.features.push(xml("ver", { xmlns: NS.rosterver }));
      return v;
    });
  },
});
