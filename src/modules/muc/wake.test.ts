import { expect, it } from "vitest";
import { mentions } from "./wake.ts";

it("finds a nickname as a word of its own, in any case", () => {
  expect(mentions("juliet: supper?", "Juliet")).toBe(true);
  expect(mentions("see you, JULIET", "juliet")).toBe(true);
  expect(mentions("ask @Mercutio", "Mercutio")).toBe(true);
  expect(mentions("Juliette is here", "Juliet")).toBe(false);
  expect(mentions("nojuliet", "juliet")).toBe(false);
  expect(mentions("a juliet_2 and a juliet", "juliet")).toBe(true);
  expect(mentions("anything", "")).toBe(false);
});
