// XEP-0215: External Service Discovery (urn:xmpp:extdisco:2), for calls: the STUN and TURN
// server (coturn) that clients use to get media through NATs (XEP-0176/XEP-0167 via ICE).
//   services.ts  what is announced, and the TURN REST API credentials coturn checks
//   parse.ts     the requests, and who may make them
//
// Choices (sections of XEP-0215 1.0.0):
// - Nothing is announced, and urn:xmpp:extdisco:2 is not in disco#info, until `host` is set.
//   STUN and TURN are announced on UDP and TCP; TURNS (TURN over TLS) when `turnsPort` is set;
//   TURN and TURNS only with the `secret` shared with the TURN server.
// - §3.1/§3.2: <services/> lists them all, or those of the 'type' asked for (an unknown type
//   gets an empty list), with fresh credentials on each TURN entry: username, password,
//   'expires' (now + `ttl`) and restricted='true', so that a client asks again (§3.3) when they
//   run out. The services push of §3.2 is not sent: the list changes only with the config.
// - §3.3: <credentials/> names services by host and type (and port); each one announced that
//   matches is returned, with credentials where it takes them; none matching is item-not-found,
//   a <service/> without host or type bad-request.
// - §2: only this server's accounts get the list or credentials; anyone else is forbidden.
import { xml } from "../../xml/element.ts";
import { StanzaError } from "../../core/errors.ts";
import { defineModule } from "../../core/module.ts";
import { int, optStr } from "../../core/schema.ts";
import { checkRequester, matching, parseCredentials, parseServices } from "./parse.ts";
import { EXTDISCO, configuredServices, needsCredentials, serviceElement, turnCredentials, type ExternalService } from "./services.ts";

export default defineModule({
  name: "extdisco",
  specs: [{ spec: "XEP-0215", version: "1.0.0" }],
  options: {
    host: optStr("The STUN/TURN server's address as clients reach it (a DNS name or an IP address); unset, no external service is announced."),
    stunPort: int("Its STUN port, announced for UDP and TCP; 0 announces no STUN.", 3478, 0, 65_535),
    turnPort: int("Its TURN port, announced for UDP and TCP (needs `secret`); 0 announces no TURN.", 3478, 0, 65_535),
    turnsPort: int("Its TURN-over-TLS port (coturn's tls-listening-port, usually 5349; needs `secret`); 0 announces no TURNS.", 0, 0, 65_535),
    secret: optStr("The secret shared with the TURN server: coturn's static-auth-secret, with use-auth-secret. Without it, TURN is not announced."),
    ttl: int("Seconds a TURN credential stays valid after it is handed out.", 86_400, 1, 30 * 86_400),
  },
  setup(ctx) {
    const o = ctx.options;
    const announced = configuredServices(o);
    if (o.host !== undefined && o.secret === undefined && (o.turnPort > 0 || o.turnsPort > 0)) {
      ctx.log.warn("extdisco: no secret shared with the TURN server (modules.extdisco.secret): only STUN is announced");
    }
    if (announced.length === 0) return;
    const secret = o.secret ?? "";
    /** The element for one service, with credentials for `user` where it takes them. */
    const entry = (s: ExternalService, user: string) =>
      serviceElement(s, needsCredentials(s) ? turnCredentials(secret, user, o.ttl, Date.now()) : undefined);

    ctx.feature(EXTDISCO);
    ctx.iq("host", EXTDISCO, "services", {
      get: ({ from, to, payload }) => {
        checkRequester(from, to.domain);
        const { type } = parseServices(payload);
        const user = from.bare.toString();
        const list = announced.filter((s) => type === undefined || s.type === type);
        return xml("services", { xmlns: EXTDISCO, type }, list.map((s) => entry(s, user)));
      },
    });
    ctx.iq("host", EXTDISCO, "credentials", {
      get: ({ from, to, payload }) => {
        checkRequester(from, to.domain);
        const found = new Set(parseCredentials(payload).flatMap((id) => matching(announced, id)));
        if (found.size === 0) throw new StanzaError("item-not-found", "no such service is announced here");
        const user = from.bare.toString();
        return xml("credentials", { xmlns: EXTDISCO }, [...found].map((s) => entry(s, user)));
      },
    });
  },
});
