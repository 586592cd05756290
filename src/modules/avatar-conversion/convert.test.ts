import { describe, expect, it } from "vitest";
import { xml } from "../../xml/element.ts";
import { photoFromBase64 } from "../vcard/photo.ts";
import { AVATAR_METADATA, injectHash, metadataPayload, publishedAvatar, sniffType } from "./convert.ts";

const UPDATE = "vcard-temp:x:update";
const meta = (...infos: Record<string, string>[]) => xml("metadata", { xmlns: AVATAR_METADATA }, infos.map((i) => xml("info", i)));
const presence = (...children: ReturnType<typeof xml>[]) => xml("presence", null, xml("show", null, "away"), ...children);
const x = (photo?: string) => xml("x", { xmlns: UPDATE }, photo === undefined ? undefined : xml("photo", null, photo));

describe("the avatar a metadata item publishes (XEP-0398 §3.1)", () => {
  it("is the info that points to no URL; none for an empty <metadata/> or no item; nothing a vCard can hold when every info has a URL", () => {
    expect(publishedAvatar(meta({ id: "u", url: "https://x/a.png", type: "image/png", bytes: "1" }, { id: "a1", type: "image/png", bytes: "9" })))
      .toEqual({ kind: "avatar", id: "a1", type: "image/png" });
    expect(publishedAvatar(meta())).toEqual({ kind: "none" });
    expect(publishedAvatar(undefined)).toEqual({ kind: "none" });
    expect(publishedAvatar(meta({ id: "u", url: "https://x/a.png" }))).toBeUndefined();
  });
});

describe("a vCard photo as XEP-0084 metadata (§3.2)", () => {
  it("gives bytes, id (its SHA-1) and the vCard's type, or the type its bytes say", () => {
    const png = Buffer.from("89504e470d0a1a0a0000", "hex").toString("base64");
    const p = photoFromBase64(png, undefined)!;
    expect(metadataPayload(p).toString()).toBe(`<metadata xmlns="${AVATAR_METADATA}"><info bytes="10" id="${p.hash}" type="image/png"/></metadata>`);
    expect(metadataPayload({ ...p, type: "image/svg+xml" }).getChild("info")!.attrs.type).toBe("image/svg+xml");
    expect(sniffType(Buffer.from("ffd8ffe000104a46", "hex").toString("base64"))).toBe("image/jpeg");
    expect(sniffType(Buffer.from("GIF89a").toString("base64"))).toBe("image/gif");
    expect(sniffType(Buffer.from("RIFF\0\0\0\0WEBPVP8 ").toString("base64"))).toBe("image/webp");
    expect(sniffType(Buffer.from("hello").toString("base64"))).toBeUndefined();
  });
});

describe("the hash in presence (§4)", () => {
  it.each<[string, ReturnType<typeof xml>, string, string | undefined]>([
    ["is added to a presence without <x/>", presence(), "abc", "abc"],
    ["overwrites an <x/> without <photo/> (MUST)", presence(x()), "abc", "abc"],
    ["overwrites another hash (MAY)", presence(x("old")), "abc", "abc"],
    ["leaves an empty <photo/> as it is (MUST)", presence(x("")), "abc", ""],
    ["without a photo, overwrites an <x/> without <photo/> with an empty one", presence(x()), "", ""],
    ["without a photo, adds nothing to a presence without <x/>", presence(), "", undefined],
  ])("%s", (_what, p, hash, photo) => {
    injectHash(p, hash);
    const xs = p.getChildren("x", UPDATE);
    expect(xs.length).toBeLessThanOrEqual(1);
    expect(xs[0]?.getChildText("photo") ?? undefined).toBe(photo);
    expect(p.getChildText("show")).toBe("away");
  });

  it("says whether it changed the presence", () => {
    expect(injectHash(presence(x("abc")), "abc")).toBe(false);
    expect(injectHash(presence(x("")), "abc")).toBe(false);
    expect(injectHash(presence(), "abc")).toBe(true);
  });
});
