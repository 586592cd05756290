// XEP-0077: In-Band Registration. Public registration before authentication when the server's
// `registration.enabled` is set, and for streams that presented an invitation when another module
// offers them (gate.ts, XEP-0445); password change and cancellation for authenticated accounts
// always (the Security Considerations leave both to deployment policy; they are the account's own).
// The fields are offered and taken as legacy elements or as a data form (§4, parse.ts).
//
// Discovery: the stream feature (§6) appears only while registration is possible on this stream
// (enabled, or invitations can open it (gate.ts); and TLS is up or not required): it is what
// clients check before registering (Conversations refuses to register without it, even with an
// invitation).
// The disco feature jabber:iq:register (§10) is always on the server: connected clients read it
// to offer "change password" and "delete account" (the XEP: "to determine if password changes
// are possible in-band"), which work whatever the public registration setting.
import { xml } from "../../xml/element.ts";
import { NS } from "../../xml/ns.ts";
import { defineModule } from "../../core/module.ts";
import { preAuthHandler, routedHandlers } from "./handlers.ts";
import { REGISTRATION } from "./gate.ts";
import { Registrar } from "./registrar.ts";

export default defineModule({
  name: "register",
  specs: [{ spec: "XEP-0077", version: "2.4" }],
  setup(ctx) {
    const { c2s } = ctx.settings;
    const registrar = new Registrar(ctx, ctx.log);
    ctx.feature(NS.register);
    // Each hosted domain's own switch (registration, hosts.<host>.registration).
    ctx.fold("stream/features-preauth", (v) => {
      if ((registrar.enabled(v.domain) || registrar.invitable(v.domain)) && (v.secure || !c2s.requireTls)) v.features.push(xml("register", { xmlns: NS.registerFeature }));
      return v;
    });
    ctx.provideEach(REGISTRATION, (user) => ({ addGate: (gate) => user.own(registrar.addGate(gate)) }));
    ctx.preAuthIq(NS.register, preAuthHandler(registrar, ctx.log));
    const hosted = (d: string) => ctx.hosts.has(d);
    ctx.iq("host", NS.register, "query", routedHandlers(registrar, hosted, "host"));
    ctx.iq("account", NS.register, "query", routedHandlers(registrar, hosted, "account"));
  },
});
