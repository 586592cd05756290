// XEP-0065: SOCKS5 Bytestreams, the proxy (§6, mediated connections). When two clients cannot
// reach each other directly (NAT, firewalls: most phones and laptops), both connect to the
// proxy with SOCKS5 and the Requester activates the pair; the proxy then relays the file. A
// service on its own domain (default proxy.<domain>) with a TCP port of its own.
//   service.ts  the XMPP side: disco, the <streamhost/> address, activation
//   streams.ts  connections waiting for activation, paired by hash; the limits
//   relay.ts    an activated stream: bytes both ways, bounded and rate-limited
// The SOCKS5 handshake itself is src/transports/socks5.ts.
// In a cluster each node runs its own proxy: a stream's two connections and its activation must
// reach the same node, so each node advertises an address of its own (`advertise`), not the
// load balancer's.
import type { AddressInfo } from "node:net";
import { defineModule } from "../../core/module.ts";
import { int, oneOf, optStr, str } from "../../core/schema.ts";
import { listenSocks5 } from "../../transports/socks5.ts";
import { parseJid } from "../../xml/jid.ts";
import { ProxyService } from "./service.ts";
import { StreamTable } from "./streams.ts";

/** How long a client has for the SOCKS5 handshake (its greeting and request), at most. */
const HANDSHAKE_MS = 10_000;

/** A host's service domain: modules.<name>.domain for the configuration's domain, else proxy.<host>. */
const serviceDomain = (o: { domain?: string }, host: string, primary: boolean): string => (primary ? o.domain : undefined) ?? `proxy.${host}`;

export default defineModule({
  name: "proxy65",
  specs: [{ spec: "XEP-0065", version: "1.8.2" }],
  options: {
    domain: optStr("The service's domain; default proxy.<server domain>. Each further host's is proxy.<host>."),
    name: str("The service's name in service discovery.", "SOCKS5 Bytestreams Proxy"),
    host: str("The address the SOCKS5 listener binds (:: is every address, IPv4 and IPv6).", "::"),
    port: int("The SOCKS5 listener's TCP port; 0 turns the proxy off.", 7777, 0, 65535),
    advertise: optStr("The host clients connect to, as the proxy gives it (an IP address, or a name that resolves to this server); default: the proxy's host's domain."),
    access: oneOf("Who may use the proxy: the accounts of its host, or anyone (other servers' users too).", ["local", "anyone"], "local"),
    maxStreamBytes: int("Bytes one stream may relay, both ways together, before it is cut; 0 lifts the bound.", 1_073_741_824, 0),
    streamRate: int("Bytes per second one stream may relay; 0 lifts the limit.", 10_485_760, 0),
    accountRate: int("Bytes per second the streams one account requested may relay together; 0 lifts the limit.", 20_971_520, 0),
    processRate: int("Bytes per second all streams together may relay; 0 lifts the limit.", 0, 0),
    maxStreamsPerAccount: int("Streams one account may have activated at a time.", 5, 1),
    maxStreams: int("Streams activated at a time, in all.", 500, 1),
    maxPending: int("Connections not activated yet, in all.", 200, 1),
    maxPendingPerAddress: int("Connections not activated yet from one client address.", 10, 1),
    activationTimeout: int("Seconds from connect to activation, after which a connection is closed.", 60, 1),
    idleTimeout: int("Seconds without a byte either way after which a stream is closed.", 300, 1),
  },
  // With its port at 0 the proxy is off and takes no domain.
  domains: (o, host, primary) => (o.port === 0 ? [] : [serviceDomain(o, host, primary)]),
  async setup(ctx) {
    const o = ctx.options;
    const ephemeral = ctx.settings.ephemeralPorts;
    if (o.port === 0 && !ephemeral) return;
    const streams = new StreamTable({
      maxPending: o.maxPending, maxPendingPerAddress: o.maxPendingPerAddress, activationTimeoutMs: o.activationTimeout * 1000,
      maxStreams: o.maxStreams, maxStreamsPerAccount: o.maxStreamsPerAccount, maxStreamBytes: o.maxStreamBytes,
      idleTimeoutMs: o.idleTimeout * 1000, streamRate: o.streamRate, accountRate: o.accountRate, processRate: o.processRate,
    }, ctx.log);
    const listener = await listenSocks5({
      host: o.host,
      port: ephemeral ? 0 : o.port,
      // Two connections per stream and the ones waiting, and as many again closing (a few seconds each).
      maxConnections: 2 * (o.maxStreams * 2 + o.maxPending),
      handshakeTimeoutMs: Math.min(HANDSHAKE_MS, o.activationTimeout * 1000),
      admit: (socket) => streams.admit(socket),
      onRequest: (c) => streams.connect(c),
      onRefused: (socket, reason) => {
        streams.release(socket);
        ctx.log.debug({ address: socket.remoteAddress, reason }, "SOCKS5 handshake refused");
      },
    });
    ctx.onUnload(() => {
      listener.close();
      streams.close();
    });
    const port = (listener.address() as AddressInfo).port;
    // One service per hosted domain, all on the one listener.
    for (const served of ctx.hosts.all()) {
      const domain = served.domain;
      const jid = parseJid(serviceDomain(o, domain, served === ctx.hosts.primary));
      const host = o.advertise ?? domain;
      ctx.component(jid.domain, new ProxyService({ jid, name: o.name, host, port, access: o.access, domain }, ctx.send, streams));
      ctx.item({ jid: jid.toString(), name: o.name, host: domain });
      ctx.log.info({ jid: jid.toString(), listening: { host: o.host, port }, advertised: { host, port } }, "SOCKS5 bytestreams proxy");
    }
  },
});
