// Structured logs through pino. Context (connection id, JID) rides on child loggers; stanza
// bodies and credentials are never logged above debug.
import { pino, type Logger } from "pino";

export type { Logger };

export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  return pino({
    level,
    base: { service: "xmppd" },
    redact: { paths: ["password", "*.password", "body", "*.body"], censor: "[redacted]" },
  }, destination ?? pino.destination({ fd: 2, sync: false }));
}
