// The base64 text of SASL elements (RFC 6120 §6.4.2 and §6.4.6, XEP-0388 likewise): an empty
// element carries no data, "=" carries zero-length data, anything else is strict base64 without
// whitespace. Shared by the RFC 6120 and SASL2 front ends; a bad payload is incorrect-encoding.
import { decodeBase64 } from "./common.ts";

/** "absent" for empty text, a Buffer (possibly empty) for "=" or base64, "invalid" otherwise. */
export function decodeSaslPayload(text: string): Buffer | "absent" | "invalid" {
  if (text === "") return "absent";
  if (text === "=") return Buffer.alloc(0);
  return decodeBase64(text) ?? "invalid";
}

/** The element text for data: "" for none, "=" for zero-length data, base64 otherwise. */
export function encodeSaslPayload(data: Buffer | null): string {
  if (data === null) return "";
  return data.length === 0 ? "=" : data.toString("base64");
}
