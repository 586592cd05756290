// The external services a server announces (XEP-0215 §2) and the time-limited TURN credentials
// it hands out for them: the "TURN REST API" scheme (draft-uberti-behave-turn-rest-00), which
// coturn checks with `use-auth-secret` and `static-auth-secret`:
//   username = "<expiry, Unix seconds>:<user>"
//   password = base64(HMAC-SHA1(shared secret, username))
// coturn refuses an allocation whose username's expiry has passed, so a credential needs no
// state on either side. Pure functions, unit-tested beside this file.
import { createHmac } from "node:crypto";
import { xml, type Element } from "../../xml/element.ts";

export const EXTDISCO = "urn:xmpp:extdisco:2";

/** The service types of the XEP-0215 registry this server announces. */
export type ServiceType = "stun" | "turn" | "turns";

export interface ExternalService {
  readonly type: ServiceType;
  readonly host: string;
  readonly port: number;
  readonly transport: "udp" | "tcp";
}

export interface ServiceConfig {
  host: string | undefined;
  stunPort: number;
  turnPort: number;
  turnsPort: number;
  /** TURN and TURNS are announced only with a secret: without credentials they cannot be used. */
  secret: string | undefined;
}

/** What the configuration announces: STUN and TURN on UDP and TCP, TURNS on TCP; a port of 0 announces nothing. */
export function configuredServices(c: ServiceConfig): ExternalService[] {
  const { host } = c;
  if (host === undefined) return [];
  const out: ExternalService[] = [];
  const add = (type: ServiceType, port: number, transports: ("udp" | "tcp")[]) => {
    if (port > 0) for (const transport of transports) out.push({ type, host, port, transport });
  };
  add("stun", c.stunPort, ["udp", "tcp"]);
  if (c.secret !== undefined) {
    add("turn", c.turnPort, ["udp", "tcp"]);
    add("turns", c.turnsPort, ["tcp"]);
  }
  return out;
}

export interface Credentials {
  readonly username: string;
  readonly password: string;
  /** Unix seconds. */
  readonly expires: number;
}

/** TURN REST API credentials for `user`, valid `ttl` seconds from `now` (Unix ms). */
export function turnCredentials(secret: string, user: string, ttl: number, now: number): Credentials {
  const expires = Math.floor(now / 1000) + ttl;
  const username = `${expires}:${user}`;
  const password = createHmac("sha1", secret).update(username).digest("base64");
  return { username, password, expires };
}

/** Whether the service is used with credentials (TURN and TURNS; STUN binding requests need none). */
export function needsCredentials(s: ExternalService): boolean {
  return s.type !== "stun";
}

/** XEP-0082 dateTime in UTC, without fractions of a second. */
function dateTime(unixSeconds: number): string {
  return new Date(unixSeconds * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
}

/**
 * A <service/> element (§2). With credentials: username, password, 'expires' (when they stop
 * working) and 'restricted' (the service needs credentials, to be asked again with §3.3 when
 * these expire).
 */
export function serviceElement(s: ExternalService, creds?: Credentials): Element {
  return xml("service", {
    type: s.type,
    host: s.host,
    port: String(s.port),
    transport: s.transport,
    ...(creds ? { username: creds.username, password: creds.password, expires: dateTime(creds.expires), restricted: "true" } : {}),
  });
}
