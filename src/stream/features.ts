// Stream features (RFC 6120 §4.3.2) a client stream offers: before authentication STARTTLS
// (§5) and the SASL mechanisms (§6, and SASL2's, XEP-0388), once TLS is there or not required;
// after it resource binding (§7), the optional session of RFC 3921 and stream management
// (XEP-0198); after SASL2 bound a resource (XEP-0386), what is left of those. Modules add theirs
// through the fold hooks (in-band registration before, roster versioning after).
import { xml, type Element } from "../xml/element.ts";
import type { JID } from "../xml/jid.ts";
import { NS } from "../xml/ns.ts";
import type { Transport } from "../transports/transport.ts";
import type { StreamContext } from "./context.ts";

/** `auth`: the authentication features (SASL's mechanisms, SASL2's), offered once TLS is there or not required. */
/** `domain`: the hosted domain the stream is to. */
export async function preAuthFeatures(ctx: StreamContext, transport: Transport, domain: string, auth: () => Element[]): Promise<Element[]> {
  const out: Element[] = [];
  const { requireTls } = ctx.config.c2s;
  if (transport.canStartTls) {
    out.push(xml("starttls", { xmlns: NS.tls }, requireTls ? xml("required") : undefined));
  }
  if (transport.secure || !requireTls) out.push(...auth());
  const folded = await ctx.events.fold("stream/features-preauth", { secure: transport.secure, domain, features: out });
  return folded.features;
}

export async function authenticatedFeatures(ctx: StreamContext, account: JID): Promise<Element[]> {
  const features = [xml("bind", { xmlns: NS.bind }), xml("session", { xmlns: NS.session }, xml("optional")), xml("sm", { xmlns: NS.sm })];
  const folded = await ctx.events.fold("stream/features", { account, features });
  return folded.features;
}

/**
 * The features after SASL2 bound a resource inline (XEP-0386): no binding, and stream management
 * only if the client has not enabled it yet (XEP-0388: "<success> is immediately followed by a
 * <features> element ... containing the applicable stream features").
 */
export async function boundFeatures(ctx: StreamContext, account: JID, smEnabled: boolean): Promise<Element[]> {
  const folded = await ctx.events.fold("stream/features", { account, features: smEnabled ? [] : [xml("sm", { xmlns: NS.sm })] });
  return folded.features;
}

/** The <stream:features/> element's text. */
export function featuresElement(features: Element[]): string {
  return xml("stream:features", null, features).toString();
}
