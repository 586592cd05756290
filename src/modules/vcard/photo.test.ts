import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { xml } from "../../xml/element.ts";
import { photoFromBase64, photosOf, updateElement, withPhoto } from "./photo.ts";

const png = Buffer.from("89504e470d0a1a0a0000000d49484452", "hex");
const sha1 = createHash("sha1").update(png).digest("hex");
const b64 = png.toString("base64");

describe("vCard photos (XEP-0054, XEP-0153)", () => {
  it("reads each PHOTO that holds its image, hashed as XEP-0153 says (SHA-1 of the bytes, hex), whitespace in BINVAL ignored", () => {
    const card = xml("vCard", { xmlns: "vcard-temp" }, xml("FN", null, "Juliet"),
      xml("PHOTO", null, xml("TYPE", null, " image/png "), xml("BINVAL", null, `\n  ${b64.slice(0, 8)}\n  ${b64.slice(8)}\n`)),
      xml("PHOTO", null, xml("EXTVAL", null, "https://example.org/a.png")),
      xml("PHOTO", null, xml("BINVAL", null, "not base64!")));
    expect(photosOf(card)).toEqual([{ type: "image/png", base64: b64, bytes: png.length, hash: sha1 }]);
    expect(photosOf(undefined)).toEqual([]);
  });

  it("refuses what is not an image in base64", () => {
    expect(photoFromBase64("", "image/png")).toBeUndefined();
    expect(photoFromBase64("====", undefined)).toBeUndefined();
    expect(photoFromBase64("A", undefined)).toBeUndefined();
    expect(photoFromBase64("AA==", undefined)?.bytes).toBe(1);
  });

  it("replaces the PHOTOs of a vCard, keeps the rest, and removes them", () => {
    const card = xml("vCard", { xmlns: "vcard-temp" }, xml("FN", null, "Juliet"), xml("PHOTO", null, xml("BINVAL", null, "AA==")));
    const photo = photoFromBase64(b64, "image/png")!;
    expect(withPhoto(card, photo).toString()).toBe(`<vCard xmlns="vcard-temp"><FN>Juliet</FN><PHOTO><TYPE>image/png</TYPE><BINVAL>${b64}</BINVAL></PHOTO></vCard>`);
    expect(withPhoto(card, undefined).toString()).toBe(`<vCard xmlns="vcard-temp"><FN>Juliet</FN></vCard>`);
    expect(withPhoto(undefined, { ...photo, type: undefined }).toString()).toBe(`<vCard xmlns="vcard-temp"><PHOTO><BINVAL>${b64}</BINVAL></PHOTO></vCard>`);
  });

  it("writes the presence payload: a hash, an empty photo for none, no photo when not ready", () => {
    expect(updateElement("abc").toString()).toBe(`<x xmlns="vcard-temp:x:update"><photo>abc</photo></x>`);
    expect(updateElement("").toString()).toBe(`<x xmlns="vcard-temp:x:update"><photo/></x>`);
    expect(updateElement(undefined).toString()).toBe(`<x xmlns="vcard-temp:x:update"/>`);
  });
});
