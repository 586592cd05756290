// The SASL mechanisms a stream offers, in the server's order of preference (RFC 6120 §6.3.3
// mechanism preferences, §6.3.4 mechanism offers). Which are possible depends on TLS and channel
// binding, properties of the connection (SaslContext in mechanism.ts).
import type { SaslContext, SaslMechanism } from "./mechanism.ts";
import { PLAIN } from "./plain.ts";
import { channelBindingAvailable, scramMechanism } from "./scram.ts";

/** Every mechanism this server knows, strongest first. */
export const MECHANISM_NAMES = [
  "SCRAM-SHA-256-PLUS", "SCRAM-SHA-1-PLUS", "SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN",
] as const;

/**
 * The mechanisms to offer on this stream, in preference order. PLAIN only under TLS; -PLUS only
 * when a channel binding is available. The plain SCRAM variants are told whether any -PLUS was
 * offered, which decides the "y" flag downgrade check (RFC 5802 §6).
 */
export function mechanismsFor(ctx: SaslContext, enabled?: readonly string[]): SaslMechanism[] {
  const on = (name: string): boolean => enabled === undefined || enabled.includes(name);
  const plusOffered = channelBindingAvailable(ctx) && (on("SCRAM-SHA-256-PLUS") || on("SCRAM-SHA-1-PLUS"));
  const all: SaslMechanism[] = [
    scramMechanism({ hash: "SHA-256", plus: true }),
    scramMechanism({ hash: "SHA-1", plus: true }),
    scramMechanism({ hash: "SHA-256", plus: false, plusOffered }),
    scramMechanism({ hash: "SHA-1", plus: false, plusOffered }),
    PLAIN,
  ];
  return all.filter((m) => on(m.name) && m.available(ctx));
}
