// XEP-0077: In-Band Registration. Public registration before authentication when the server's
// `registration.enabled` is set; password change and cancellation for authenticated accounts
// always (the Security Considerations leave both to deployment policy; they are the account's own).
//
// Discovery: the stream feature (§6) appears only while public registration is possible on this
// stream (enabled, and TLS is up or not required): it is what clients check before registering.
// The disco feature jabber:iq:register (§10) is always on the server: connected clients read it
// to offer "change password" and "delete account" (the XEP: "to determine if password changes
// are possible in-band"), which work whatever the public registration setting.
import { xml } from "../../xml/element.ts";
import { NS } from "../../xml/ns.ts";
import { defineModule } from "../../core/module.ts";
import { preAuthHandler, routedHandlers } from "./handlers.ts";
import { Registrar } from "./registrar.ts";

export default defineModule({
  name: "register",
  specs: [{ spec: "XEP-0077", version: "2.4" }],
  setup(ctx) {
    const { registration, c2s } = ctx.settings;
    const registrar = new Registrar(ctx, ctx.log);
    ctx.feature(NS.register);
    if (registration.enabled) {
      ctx.fold("stream/features-preauth", (v) => {
        if (v.secure || !c2s.requireTls) v.features.push(xml("register", { xmlns: NS.registerFeature }));
        return v;
      });
    }
    ctx.preAuthIq(NS.register, preAuthHandler(registrar, registration.enabled, ctx.log));
    const domain = ctx.domain.domain;
    ctx.iq("host", NS.register, "query", routedHandlers(registrar, domain, "host"));
    ctx.iq("account", NS.register, "query", routedHandlers(registrar, domain, "account"));
  },
});
