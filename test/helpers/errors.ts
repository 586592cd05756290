// The stanza error condition a synchronous call throws, for unit tests of pure parsers.
import { StanzaError } from "../../src/core/errors.ts";

/** The condition of the StanzaError fn throws; "other" for any other throw; undefined when it returns. */
export function condition(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return e instanceof StanzaError ? e.condition : "other";
  }
  return undefined;
}
