// The two requests of XEP-0215, read into typed records: <services type?/> (§3.1, §3.2) and
// <credentials><service host type port?/></credentials> (§3.3). Who may ask is decided here too.
import type { Element } from "../../xml/element.ts";
import type { JID } from "../../xml/jid.ts";
import { StanzaError } from "../../core/errors.ts";
import type { ExternalService } from "./services.ts";

/** Services requested in one <credentials/>; more is bad-request (one per announced service would do). */
export const MAX_REQUESTED = 16;

/** §3.2: the type asked for, if any. */
export function parseServices(services: Element): { type: string | undefined } {
  const type = services.attrs.type;
  return { type: type === undefined || type === "" ? undefined : type };
}

export interface ServiceIdentity {
  host: string;
  type: string;
  port: number | undefined;
}

/** §3.3: each <service/> MUST have 'host' and 'type'; 'port' MAY narrow it down. */
export function parseCredentials(credentials: Element): ServiceIdentity[] {
  const services = credentials.getChildren("service");
  if (services.length === 0) throw new StanzaError("bad-request", "name the service: <service host='...' type='...'/>");
  if (services.length > MAX_REQUESTED) throw new StanzaError("bad-request", `at most ${MAX_REQUESTED} services per request`);
  return services.map((s) => {
    const { host, type, port } = s.attrs;
    if (!host || !type) throw new StanzaError("bad-request", "a <service/> needs its 'host' and 'type'");
    if (port !== undefined && !/^\d{1,5}$/.test(port)) throw new StanzaError("bad-request", "'port' is a port number");
    return { host, type, port: port === undefined ? undefined : Number(port) };
  });
}

/** The announced services a requested identity names (host compared without case, as DNS names are). */
export function matching(announced: readonly ExternalService[], id: ServiceIdentity): ExternalService[] {
  const host = id.host.toLowerCase();
  return announced.filter((s) => s.host.toLowerCase() === host && s.type === id.type && (id.port === undefined || s.port === id.port));
}

/**
 * §2: the list is the accounts' of the hosted domain asked (`domain`) to have ("forbidden if the requesting entity does not
 * have permission"): the credentials are paid for by the server's TURN relay.
 */
export function checkRequester(from: JID, domain: string): void {
  if (from.local === "" || from.domain !== domain) throw new StanzaError("forbidden", "external services are for this server's accounts");
}
