// The server's configuration: one JSON-with-comments file, overridable by environment variables
// (XMPPD_<PATH> with dots as double underscores: XMPPD_C2S__PORT=5333), validated once at start
// against the schema below and the modules' own schemas. Unknown keys are errors.
import { readFileSync, existsSync } from "node:fs";
import { resolve } from "node:path";
import { bool, ConfigError, custom, documentShape, int, mapOf, oneOf, optStr, parseShape, section, str, strList, type Field, type Infer, type Shape } from "./schema.ts";
import { CONSISTENCIES, parseKeyspace, parseReplication } from "../storage/cassandra/options.ts";
import { STORAGE_BACKENDS } from "../storage/open.ts";
import { JidError, normalizeDomain } from "../xml/jid.ts";

/** In-band registration (XEP-0077): the domain's, and each further host's. */
const registrationShape = {
  enabled: bool("Let anyone create an account from a client.", false),
  perHourPerAddress: int("Accounts one address may create per hour.", 5, 1),
};

/** What each further host (virtual host) sets for itself; the domain's are the top-level admins and registration. */
export const hostSchema = {
  admins: strList("Bare JIDs with administrative rights on this host (XEP-0133 commands, its rooms and nodes).", []),
  registration: section("In-band registration (XEP-0077) on this host.", registrationShape),
};

export type HostConfig = Infer<typeof hostSchema>;

export const serverSchema = {
  domain: str("The XMPP domain this server hosts (the part after @ in users' addresses).", "localhost"),
  hosts: mapOf("Further XMPP domains served besides domain (virtual hosts), each with its own accounts, admins, registration and services (conference., upload., pubsub. and proxy. subdomains of it), by name: {\"b.example\": {\"admins\": [\"boss@b.example\"]}}. Every node of a cluster serves them all.",
    "host", hostSchema, parseHostName),
  dataDir: str("Folder for the embedded database, generated certificates and uploads; a relative path is taken from the working directory.", "./data"),
  admins: strList("Bare JIDs with administrative rights on domain (XEP-0133 commands). Each further host has its own (hosts.<host>.admins).", []),
  log: section("Logging (pino, JSON lines on stderr).", {
    level: oneOf("Log level.", ["fatal", "error", "warn", "info", "debug", "trace", "silent"], "info"),
  }),
  c2s: section("Client-to-server listener (RFC 6120).", {
    host: str("Address to listen on ('::' is every address, v4 and v6).", "::"),
    port: int("STARTTLS port; 0 disables it.", 5222, 0, 65535),
    directTlsPort: int("Direct TLS port (XEP-0368); 0 disables it.", 5223, 0, 65535),
    requireTls: bool("Refuse to authenticate before TLS. Only a loopback test profile should turn this off.", true),
    maxConnections: int("Connections accepted at once on each listener.", 200_000, 1),
  }),
  s2s: section("Federation: server-to-server streams (RFC 6120, RFC 7590) with the other XMPP servers, in and out. Peers authenticate with a certificate valid for their domain (SASL EXTERNAL, XEP-0178) or, where policy allows, Server Dialback (XEP-0220).", {
    enabled: bool("Federate: accept other servers' connections and connect to theirs. Off, a stanza to another domain is answered remote-server-not-found.", true),
    host: str("Address to listen on ('::' is every address, v4 and v6).", "::"),
    port: int("S2S port (STARTTLS, found through _xmpp-server._tcp SRV records); 0: no listener (outgoing connections are still made).", 5269, 0, 65535),
    directTlsPort: int("Direct TLS S2S port (XEP-0368, _xmpps-server._tcp); 0 disables it.", 5270, 0, 65535),
    requireTls: bool("Refuse streams, in and out, that are not encrypted (RFC 7590). Only a loopback test profile should turn this off.", true),
    requireValidCertificates: bool("Accept only peers whose certificate is valid for their domain (chain and name, RFC 6125). Off, a peer without one may still prove its domain by dialback (XEP-0220), as most servers allow.", false),
    secureDomains: strList("Domains that must present a valid certificate, whatever requireValidCertificates says.", []),
    insecureDomains: strList("Domains that may use dialback without a valid certificate even when requireValidCertificates is on.", []),
    trustStore: optStr("PEM file, or folder of PEM files, of the certificate authorities peers' certificates are checked against (default: the system's)."),
    dialbackSecret: optStr("Secret the dialback keys are made from (XEP-0185); every node of a cluster must have the same. Default: made at first start and kept in storage, which the nodes share."),
    resolver: optStr("DNS server asked for the peers' SRV, A and AAAA records, as host:port (default: the system's)."),
    routes: custom("map", "Static routes that replace DNS for a domain: {\"example.org\": \"host:port\"}, or \"host:port tls\" for direct TLS.", {} as Record<string, string>, parseRoutes),
    connectTimeout: int("Seconds to connect to a peer and authenticate, after which what waits for it bounces (remote-server-timeout).", 20, 1),
    idleTimeout: int("Seconds without traffic after which a connection to or from a peer is closed.", 600, 1),
    maxQueue: int("Stanzas waiting for one peer's connection to be ready; past it, more bounce (resource-constraint).", 1000, 1),
    maxQueuePerAccount: int("Stanzas of one local account waiting for connections to other servers, whatever domains they go to; past it, more bounce.", 1000, 1),
    maxQueueTotal: int("Stanzas waiting for connections to other servers in the whole process; past it, more bounce.", 100_000, 1),
    maxConnectionsPerAddress: int("Incoming S2S connections open at once from one address.", 32, 1),
    bytesPerSecond: int("Bytes per second read from one peer domain, all its connections together (before it authenticates: from one connection); reading pauses beyond it. A server carries many users' traffic: this is a flood guard, not a user's allowance. 0 lifts it.", 1_000_000, 0),
    burstBytes: int("Bytes read at once from a peer beyond bytesPerSecond before reading pauses.", 10_000_000, 1024),
    stanzasPerSecond: int("Stanzas per second read from one peer domain; reading pauses beyond it. 0 lifts it.", 5_000, 0),
    stanzaBurst: int("Stanzas read at once from a peer beyond stanzasPerSecond before reading pauses.", 50_000, 1),
  }),
  http: section("HTTP listener: XMPP over WebSocket (RFC 7395) at /xmpp-websocket, XMPP over BOSH (XEP-0206) at /http-bind (http.bosh), and the connection methods of XEP-0156 at /.well-known/host-meta.", {
    host: str("Address of the plain HTTP listener: loopback, for a reverse proxy on this machine that ends TLS (secureProxy); '::' is every address, v4 and v6.", "127.0.0.1"),
    port: int("Plain HTTP port (ws://); 0 disables it.", 5280, 0, 65535),
    tlsHost: str("Address of the HTTPS listener ('::' is every address, v4 and v6).", "::"),
    tlsPort: int("HTTPS port (wss://), with the certificates of the tls section; 0 disables it.", 5281, 0, 65535),
    secureProxy: bool("A reverse proxy in front of the plain port ends TLS: its connections count as secure (requireTls).", false),
    publicUrl: optStr("The WebSocket URL host-meta announces (default: from the request's Host header and the listener's scheme); the BOSH URL it announces is on the same host."),
    bosh: section("XMPP over BOSH (XEP-0124, XEP-0206): HTTP long-polling for browser clients that do not use WebSocket, on both HTTP listeners.", {
      enabled: bool("Serve BOSH (and announce it in host-meta).", true),
      path: custom("string", "Path of the BOSH endpoint.", "/http-bind", parseBoshPath),
      maxWait: int("Longest a request is held, in seconds, when there is nothing to send (a client asking for more gets this).", 60, 1, 3600),
      maxInactivity: int("Seconds a session may go without a request held before it ends (its stream is then dropped, and stream management may resume it).", 60, 1, 3600),
      maxHold: int("Requests one session may have held at once (a client asking for more gets this).", 1, 1, 8),
      maxPause: int("Longest pause a client may ask for (XEP-0124 §10), in seconds; 0 offers none.", 120, 0, 3600),
      allowedOrigins: strList("Origins of the web pages that may use BOSH from a browser (CORS), as 'https://chat.example.org'; '*' is any page. A session needs the account's password either way.", ["*"]),
      maxSessionsPerAddress: int("BOSH sessions one address may have open at once on a listener (in all, at most c2s.maxConnections). Behind http.secureProxy the address is the last the proxy adds to X-Forwarded-For.", 100, 1),
      requestsPerSecond: int("Requests per second one session may make; beyond it (after a burst of three seconds' worth) they wait their turn. 0 lifts it.", 20, 0),
    }),
  }),
  tls: section("Certificates. Each name the server serves (each hosted domain, every service's subdomain) gets the certificate whose names (subjectAltName) cover it, wildcards included: chosen by SNI on direct TLS, by the stream's 'to' on STARTTLS. With no certificate at all, a self-signed one naming every hosted domain and its subdomains is made in dataDir at first start.", {
    cert: optStr("PEM certificate chain file: the default certificate, for every name no other certificate covers (with key)."),
    key: optStr("PEM private key file of cert."),
    directory: optStr("Folder of certificates, in certbot's layout (<name>/fullchain.pem and <name>/privkey.pem, as in /etc/letsencrypt/live; links followed) or Prosody's (<name>.crt and <name>.key). File names do not matter: each certificate covers the names it was issued for."),
    watch: bool("Read the certificates again when their files change (a renewal), as a reload does; connections stay.", true),
  }),
  acme: section("Certificates from an ACME certificate authority (RFC 8555) such as Let's Encrypt, obtained and renewed by the server itself: HTTP-01 challenges are answered on the plain HTTP listener, which the CA reaches on port 80 of each name (forward port 80 to http.port, or set http.port to 80, and http.host to a public address). Kept in dataDir/acme.", {
    enabled: bool("Obtain and renew certificates from the CA.", false),
    directory: str("URL of the CA's ACME directory (Let's Encrypt's staging CA, for trials: https://acme-staging-v02.api.letsencrypt.org/directory).", "https://acme-v02.api.letsencrypt.org/directory"),
    email: optStr("Contact address the CA is given for its account (expiry warnings, policy changes)."),
    acceptTerms: bool("Agree to the CA's terms of service (its directory links them); required to be set once read.", false),
    domains: strList("Names the certificate is for (each must reach this server on port 80). Empty: every hosted domain (domain, hosts) and its modules' service subdomains (external components' domains only when listed).", []),
    renewDays: int("Days before it expires that a certificate is renewed.", 30, 1, 365),
    keyType: oneOf("The certificate's key: ECDSA P-256, or RSA 2048 bits for very old clients.", ["ec256", "rsa2048"], "ec256"),
    caFile: optStr("PEM file of the CA that the ACME server's own HTTPS certificate is checked against: for a private ACME server (default: the system's CAs)."),
  }),
  limits: section("Limits checked before work (RFC 6120 §13.12).", {
    stanzaSize: int("Largest stanza after authentication, in characters.", 262_144, 1024),
    preAuthStanzaSize: int("Largest stanza before authentication, in characters.", 8192, 512),
    maxDepth: int("Deepest element nesting inside a stanza.", 32, 4, 1000),
    bytesPerSecond: int("Bytes per second read from the connections of one account, all of them together (before authentication: from one connection); reading pauses beyond it. 0 lifts it.", 10_000, 0),
    burstBytes: int("Bytes read at once beyond bytesPerSecond before reading pauses (a login's burst, an avatar).", 100_000, 1024),
    stanzasPerSecond: int("Stanzas per second read from the connections of one account together (one connection before authentication); reading pauses beyond it. 0 lifts it.", 50, 0),
    stanzaBurst: int("Stanzas read at once beyond stanzasPerSecond before reading pauses (a login's requests, joins of many rooms).", 500, 1),
    handshakeTimeout: int("Seconds from TCP connect to a bound resource.", 60, 1),
    connectionBacklog: int("Bytes written to one client connection that the network has not taken yet (a client that stops reading); past it the stream ends (resource-constraint).", 8_388_608, 65_536),
    accountBacklog: int("The same for one account's connections together: past it, the connection being written to ends. More connections buy no more.", 16_777_216, 65_536),
    processBacklog: int("The same for every client connection of the process together.", 536_870_912, 1_048_576),
  }),
  component: section("The listener of external components (XEP-0114): gateways and bots such as Slidge, Biboumi or Spectrum2 that serve a domain of their own (the components list). It opens only when components are configured; the handshake is a shared secret over plain TCP, so keep it on loopback or a private network.", {
    host: str("Address to listen on: loopback, for components on this machine.", "127.0.0.1"),
    port: int("Port of the listener; 0 disables it.", 5347, 0, 65535),
    onConflict: oneOf("A component connecting for a domain that is connected already: refuse (the new connection gets the conflict stream error) or replace (the old one gets it).", ["refuse", "replace"], "refuse"),
    handshakeTimeout: int("Seconds from TCP connect to a successful handshake.", 10, 1),
    bytesPerSecond: int("Bytes per second read from one component; reading pauses beyond it. A component is a gateway for many users: its own allowance, far above a client's. 0 lifts it.", 1_000_000, 0),
    burstBytes: int("Bytes read at once beyond bytesPerSecond before reading pauses.", 10_000_000, 1024),
    stanzasPerSecond: int("Stanzas per second read from one component; reading pauses beyond it. 0 lifts it.", 2000, 0),
    stanzaBurst: int("Stanzas read at once beyond stanzasPerSecond before reading pauses (a gateway's users all coming online at its start).", 20_000, 1),
  }),
  components: custom("list of {domain, secret}", "External components (XEP-0114) allowed to connect: each a domain of its own (gateway.example.org; not the server's domain nor a module's service domain) and the secret its handshake proves, 16 characters at least.", [] as ComponentEntry[], parseComponents),
  auth: section("Authentication (RFC 6120 §6).", {
    mechanisms: strList("SASL mechanisms offered, in preference order, where possible.", ["SCRAM-SHA-256-PLUS", "SCRAM-SHA-1-PLUS", "SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"]),
    iterations: int("PBKDF2 iterations for newly stored SCRAM keys.", 4096, 4096),
    failuresPerMinute: int("Login attempts from one address per minute that may fail: an attempt counts from when it starts until it succeeds, so attempts sent at once cannot all be tried. Past it, logins from the address are refused (temporary-auth-failure) until the minute is over.", 10, 1),
    ipv6Prefix: int("Leading bits of an IPv6 address that count as one address for the login limits (a /64 is one subscriber's network).", 64, 1, 128),
    failuresPerAccount: int("Failed (or unfinished) logins to one account, from any address, in 15 minutes before each further attempt on it waits its turn: 1 s after the one before, doubling up to 30 s. The account is slowed down, never locked.", 5, 1),
    sasl2: bool("Offer SASL2 (XEP-0388) over TLS: authentication, resource binding (Bind 2, XEP-0386), stream management and carbons in one round trip.", true),
    fastTokenDays: int("Days a FAST token (XEP-0484, one-round-trip login without the password) stays valid; it is renewed when used in its second half. 0 turns FAST off.", 14, 0, 365),
  }),
  sm: section("Stream management (XEP-0198).", {
    resumeTimeout: int("Seconds a session whose connection dropped waits to be resumed before its unacked messages go offline.", 300, 0),
    pushResumeTimeout: int("The same wait for a session that enabled push notifications (XEP-0357): mobile clients sleep for long.", 259_200, 0),
    maxQueue: int("Unacknowledged stanzas one session may hold; beyond it the session ends and they go offline.", 10_000, 16),
    maxQueueSize: int("Characters of unacknowledged stanzas (about bytes) a session waiting to be resumed may hold; past it, what is sent to it goes to the offline store at once and follows the queue when it is resumed. A connected session may hold twice that, then it ends and they go offline.", 8_388_608, 65_536),
  }),
  shutdown: section("Graceful shutdown on SIGTERM or SIGINT: the server stops accepting connections at once and tells its clients to reconnect.", {
    drainTimeout: int("Seconds the server waits for its clients' last acknowledgements and for what they sent to be stored before it closes what is left.", 10, 0, 3600),
  }),
  registration: section("In-band registration (XEP-0077) on domain; each further host has its own (hosts.<host>.registration).", registrationShape),
  storage: section("Where accounts, rosters, archives and offline messages are kept.", {
    backend: oneOf("embedded: one SQLite file in dataDir, for a single server. cassandra: a Cassandra cluster that several server nodes share.",
      STORAGE_BACKENDS, "embedded"),
    cassandra: section("The Cassandra cluster, when backend is cassandra.", {
      contactPoints: strList("Nodes to connect to first, as host or host:port (port 9042 when left out); the driver discovers the others, on the same port.", ["127.0.0.1:9042"]),
      localDataCenter: str("This server's data centre: requests go to its nodes, and LOCAL_ consistencies count replicas there.", "datacenter1"),
      keyspace: custom("string", "Keyspace of the server's tables, created with them at start when missing.", "xmppd", parseKeyspace),
      replication: custom("map", "Replication of the keyspace when it is created (a map, or its CQL text). Production: {'class': 'NetworkTopologyStrategy', '<dc>': 3}.",
        { class: "SimpleStrategy", replication_factor: 1 }, parseReplication),
      consistency: oneOf("Consistency of reads and writes. LOCAL_QUORUM: an acked write survives the loss of a replica and is seen by every later read in the data centre.",
        CONSISTENCIES, "LOCAL_QUORUM"),
    }),
  }),
  metrics: section("Prometheus metrics and the load balancers' probes (/health, /ready) on a listener of their own. Off by default, as in Prosody and ejabberd: turning it on opens a port and tells who asks how busy the server is.", {
    enabled: bool("Serve the metrics and the probes.", false),
    host: str("Address of the metrics listener: loopback (a Prometheus on this machine, or a tunnel); a private address for a scraper elsewhere. Never a public one.", "127.0.0.1"),
    port: int("Port of the metrics listener.", 5282, 1, 65535),
    path: custom("string", "Path of the metrics (the probes are /health and /ready).", "/metrics", (v) => {
      if (typeof v !== "string" || !/^\/[\x21-\x7e]*$/.test(v) || v === "/health" || v === "/ready") throw new ConfigError("must be a path starting with '/', other than /health and /ready");
      return v;
    }),
  }),
  adminSocket: section("The admin socket: a Unix socket through which the command line reaches the running server (sessions, kick, announce, stats, reload, and the account commands). Only the server's user can connect (mode 0600).", {
    enabled: bool("Open the admin socket.", true),
    path: optStr("Where the socket is made (default: admin.sock in dataDir); the folder must exist and be the server user's."),
  }),
  cluster: section("Several nodes serving the same domains: sessions, presence and routing between nodes on Redis (src/cluster/). Leave redis unset for a single node.", {
    redis: optStr("Redis URL (redis://host:port/db) shared by the nodes; unset: a single node, nothing shared."),
    node: optStr("This node's name, unique in the cluster (default: host name and c2s port)."),
    prefix: str("Start of every Redis key and channel the cluster uses: clusters (or test runs) sharing one Redis use different prefixes.", "xmppd:"),
    ackTimeout: int("Milliseconds a node waits for another to confirm a message before it stores the message offline.", 2000, 50),
    heartbeat: int("Milliseconds between a node's heartbeats; a node not heard of for three of them is taken for dead.", 1000, 100),
  }),
} satisfies Shape;

export type ServerConfig = Infer<typeof serverSchema>;

/** A name of `hosts`: an RFC 7622 domainpart, normalised. */
function parseHostName(name: string): string {
  if (/[@/]/.test(name)) throw "must be a domain name";
  try {
    return normalizeDomain(name);
  } catch (e) {
    if (!(e instanceof JidError)) throw e;
    throw e.message;
  }
}

/** http.bosh.path: a path of its own, not the WebSocket endpoint's nor host-meta's. */
function parseBoshPath(v: unknown): string {
  if (typeof v !== "string" || !/^\/[\x21-\x7e]*[^/]$/.test(v) || v === "/xmpp-websocket" || v.startsWith("/.well-known/")) {
    throw new ConfigError("must be a path starting with '/', not ending with one, other than /xmpp-websocket and /.well-known/...");
  }
  return v;
}

/** s2s.routes: domain -> "host:port" or "host:port tls", each checked. */
function parseRoutes(raw: unknown): Record<string, string> {
  let value: unknown = raw;
  if (typeof raw === "string") {
    try {
      value = JSON.parse(raw);
    } catch {
      throw `must be a JSON map of domain to "host:port"`;
    }
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw `must be a map of domain to "host:port"`;
  const out: Record<string, string> = {};
  for (const [domain, route] of Object.entries(value as Record<string, unknown>)) {
    if (typeof route !== "string" || !/^(\[[0-9a-fA-F:.]+\]|[^\s:]+):\d{1,5}( tls)?$/.test(route)) {
      throw `${domain}: "${String(route)}" is not "host:port" or "host:port tls"`;
    }
    out[domain.toLowerCase()] = route;
  }
  return out;
}

/** An external component the configuration allows (XEP-0114): its domain, normalised, and its secret. */
export interface ComponentEntry { domain: string; secret: string }

/** Shorter secrets are refused: the handshake's SHA-1 may be seen by whoever reads the connection. */
const MIN_COMPONENT_SECRET = 16;

/** The `components` list: a domain each (RFC 7622 domainpart, not repeated) and a secret of 16 characters or more. */
export function parseComponents(raw: unknown): ComponentEntry[] {
  // From the environment (XMPPD_COMPONENTS) the list comes as its JSON text.
  let v = raw;
  if (typeof v === "string") {
    try {
      v = JSON.parse(v);
    } catch {
      throw "must be a list of {domain, secret} (JSON, from the environment)";
    }
  }
  if (!Array.isArray(v)) throw "must be a list of {domain, secret}";
  const seen = new Set<string>();
  return v.map((entry: unknown, i) => {
    if (typeof entry !== "object" || entry === null || Array.isArray(entry)) throw `[${i}]: must be an object {domain, secret}`;
    const { domain, secret, ...rest } = entry as Record<string, unknown>;
    const unknown = Object.keys(rest)[0];
    if (unknown !== undefined) throw `[${i}].${unknown}: unknown option (known here: domain, secret)`;
    if (typeof domain !== "string" || /[@/]/.test(domain)) throw `[${i}].domain: must be a domain name`;
    let normal: string;
    try {
      normal = normalizeDomain(domain);
    } catch (e) {
      if (!(e instanceof JidError)) throw e;
      throw `[${i}].domain: ${e.message}`;
    }
    if (seen.has(normal)) throw `[${i}].domain: ${normal} is listed twice`;
    seen.add(normal);
    if (typeof secret !== "string" || secret.length < MIN_COMPONENT_SECRET) throw `[${i}].secret: must be a string of ${MIN_COMPONENT_SECRET} characters or more`;
    return { domain: normal, secret };
  });
}

/** Strips // and /* *\/ comments and trailing commas outside strings, so the file may be commented. */
export function stripJsonComments(text: string): string {
  let out = "";
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === "\\" ? 2 : 1;
      out += text.slice(i, j + 1);
      i = j;
    } else if (c === "/" && text[i + 1] === "/") {
      while (i < text.length && text[i] !== "\n") i++;
      out += "\n";
    } else if (c === "/" && text[i + 1] === "*") {
      const end = text.indexOf("*/", i + 2);
      i = end < 0 ? text.length : end + 1;
    } else out += c;
  }
  return out.replace(/,(\s*[}\]])/g, "$1");
}

/**
 * XMPPD_* variables that are not configuration: the config file's path, and the settings of the
 * scripts that run Redis, Cassandra, S3Proxy and coturn for the tests (scripts/services/), which
 * reach servers the tests start as child processes.
 */
const NOT_CONFIG = new Set(["XMPPD_CONFIG", "XMPPD_SERVICES", "XMPPD_SERVICES_DIR", "XMPPD_REDIS_PORT", "XMPPD_REDIS_TIMEOUT",
  "XMPPD_CASSANDRA_PORT", "XMPPD_CASSANDRA_STORAGE_PORT", "XMPPD_CASSANDRA_TIMEOUT", "XMPPD_CASSANDRA_RING_HEAP",
  "XMPPD_S3_PORT", "XMPPD_S3_ACCESS_KEY", "XMPPD_S3_SECRET_KEY", "XMPPD_S3_TIMEOUT",
  "XMPPD_COTURN_PORT", "XMPPD_COTURN_TLS_PORT", "XMPPD_COTURN_MIN_PORT", "XMPPD_COTURN_MAX_PORT", "XMPPD_COTURN_SECRET", "XMPPD_COTURN_TIMEOUT"]);

/** Applies XMPPD_* variables onto the raw config: XMPPD_C2S__PORT sets c2s.port. */
export function applyEnv(raw: Record<string, unknown>, env: NodeJS.ProcessEnv, shape: Shape): Record<string, unknown> {
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith("XMPPD_") || NOT_CONFIG.has(name) || value === undefined) continue;
    const path = name.slice(6).toLowerCase().split("__").map(camel);
    let target: Record<string, unknown> = raw;
    let fields: Shape | undefined = shape;
    for (const key of path.slice(0, -1)) {
      const f: unknown = fields?.[key];
      fields = (f as { shape?: Shape } | undefined)?.shape;
      if (typeof target[key] !== "object" || target[key] === null) target[key] = {};
      target = target[key] as Record<string, unknown>;
    }
    const last = path[path.length - 1]!;
    if (fields && !(last in fields)) throw new ConfigError(`${name}: no option ${path.join(".")}`);
    target[last] = value;
  }
  return raw;
}

function camel(s: string): string {
  return s.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
}

export interface LoadedConfig {
  server: ServerConfig;
  modules: Record<string, unknown>;
  /** Some module options came from XMPPD_MODULES__* variables (strings, read as their fields' types). */
  modulesFromEnv?: boolean;
  /** The config file's absolute path; undefined when the defaults and the environment are all there is. */
  path: string | undefined;
}

/** Reads, merges and validates; throws ConfigError with a one-line message naming the bad key. */
export function loadConfig(path: string | undefined, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  let raw: Record<string, unknown> = {};
  // A relative path is the caller's: resolved against the working directory, and said in full.
  const file = path === undefined ? undefined : resolve(path);
  if (file !== undefined) {
    if (!existsSync(file)) throw new ConfigError(`config file ${file} not found`);
    try {
      raw = JSON.parse(stripJsonComments(readFileSync(file, "utf8"))) as Record<string, unknown>;
    } catch (e) {
      throw new ConfigError(`${file}: not valid JSON (${(e as Error).message})`);
    }
  }
  const { modules = {}, ...rest } = raw;
  // XMPPD_MODULES__UPLOAD__S3__BUCKET sets modules.upload.s3.bucket, checked with the module's schema at start.
  const { modules: envModules, ...envRaw } = applyEnv({}, env, serverSchema);
  const merged = mergeDeep(rest, envRaw);
  const fromEnv = Object.keys(envRaw).length > 0;
  const allModules = envModules === undefined ? modules : mergeDeep(modules as Record<string, unknown>, envModules as Record<string, unknown>);
  return { server: parseShape(serverSchema, merged, "", fromEnv), modules: allModules as Record<string, unknown>, modulesFromEnv: envModules !== undefined, path: file };
}

function mergeDeep(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const cur = out[k];
    out[k] = typeof v === "object" && v !== null && typeof cur === "object" && cur !== null
      ? mergeDeep(cur as Record<string, unknown>, v as Record<string, unknown>) : v;
  }
  return out;
}

/** What the reference needs of a module: its name, its specifications and its option schema. */
export interface DocumentedModule { name: string; specs: readonly { spec: string }[]; options?: Shape }

/** The reference (markdown): the server's options, then each module's under modules.<name>. */
export function documentConfig(modules: readonly DocumentedModule[] = []): string {
  const rows = ["| key | type | default | meaning |", "|---|---|---|---|", ...documentShape(serverSchema),
    "| `modules` | section | | Options of the modules, by module name; a module left out takes its defaults. |"];
  for (const m of modules) {
    if (!m.options || Object.keys(m.options).length === 0) continue;
    rows.push(`| \`modules.${m.name}\` | section | | The ${m.name} module (${m.specs.map((s) => s.spec).join(", ")}). |`,
      ...documentShape(m.options, `modules.${m.name}.`));
  }
  return rows.join("\n");
}
