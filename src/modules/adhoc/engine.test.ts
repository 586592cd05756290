// The XEP-0050 action rules without sockets: a three-form command (a, then b, then the
// operation), as Smack's own multi-stage integration test drives one between two clients.
import { describe, expect, it } from "vitest";
import { xml, type Element } from "../../xml/element.ts";
import { parseJid } from "../../xml/jid.ts";
import { StanzaError } from "../../core/errors.ts";
import type { AdhocCommand } from "./command.ts";
import { actionsOf, execute } from "./engine.ts";
import { parseCommand, type CommandRequest } from "./parse.ts";
import { CommandSessions } from "./sessions.ts";

const CMDS = "http://jabber.org/protocol/commands";
const X = "jabber:x:data";
const me = parseJid("admin@example.com/desk");

const calc: AdhocCommand = {
  node: "calc",
  name: "Calculate",
  mayRun: () => true,
  stages: [
    { fields: [{ type: "text-single", var: "a", required: true }] },
    { fields: [{ type: "text-single", var: "b", required: true }] },
    { fields: [{ type: "list-single", var: "op", required: true, options: [{ value: "+" }, { value: "-" }] }] },
  ],
  complete([a, b, op]) {
    const x = Number(a!.text("a"));
    const y = Number(b!.text("b"));
    if (Number.isNaN(x) || Number.isNaN(y)) throw new StanzaError("bad-request", "not a number");
    const result = op!.text("op") === "+" ? x + y : x - y;
    return { form: { type: "result", fields: [{ type: "text-single", var: "result", values: [String(result)] }] } };
  },
};

const req = (attrs: Record<string, string>, fields?: Record<string, string>): CommandRequest => {
  const form = fields && xml("x", { xmlns: X, type: "submit" }, Object.entries(fields).map(([k, v]) => xml("field", { var: k }, xml("value", null, v))));
  const r = parseCommand(xml("command", { xmlns: CMDS, node: "calc", ...attrs }, form));
  if (r instanceof StanzaError) throw r;
  return r;
};
const field = (c: Element, name: string) => c.getChild("x", X)?.getChildren("field").find((f) => f.attrs.var === name);
async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    const err = e as StanzaError;
    return [err.condition, err.extra?.name].filter(Boolean).join("/");
  }
  return "none";
}

describe("a multi-stage command", () => {
  it("next, next, complete: each stage's form with its actions, then the result", async () => {
    const sessions = new CommandSessions(60_000, 5);
    const s1 = await execute(calc, req({}), me, sessions, "localhost");
    const sessionid = s1.attrs.sessionid!;
    expect(s1.attrs.status).toBe("executing");
    expect(s1.getChild("actions")!.toString()).toBe(`<actions execute="next"><next/></actions>`);
    const s2 = await execute(calc, req({ sessionid, action: "next" }, { a: "42" }), me, sessions, "localhost");
    expect(s2.getChild("actions")!.toString()).toBe(`<actions execute="next"><prev/><next/></actions>`);
    expect(field(s2, "b")).toBeDefined();
    // "execute" is the stage's default: next here.
    const s3 = await execute(calc, req({ sessionid, action: "execute" }, { b: "23" }), me, sessions, "localhost");
    expect(s3.getChild("actions")!.toString()).toBe(`<actions execute="complete"><prev/><complete/></actions>`);
    const done = await execute(calc, req({ sessionid, action: "complete" }, { op: "+" }), me, sessions, "localhost");
    expect(done.attrs).toMatchObject({ status: "completed", sessionid });
    expect(field(done, "result")!.getChildText("value")).toBe("65");
    expect(sessions.size).toBe(0);
  });

  it("prev goes back one stage and shows the value given before; the new value counts", async () => {
    const sessions = new CommandSessions(60_000, 5);
    const sessionid = (await execute(calc, req({}), me, sessions, "localhost")).attrs.sessionid!;
    await execute(calc, req({ sessionid, action: "next" }, { a: "42" }), me, sessions, "localhost");
    const back = await execute(calc, req({ sessionid, action: "prev" }), me, sessions, "localhost");
    expect(field(back, "a")!.getChildText("value")).toBe("42");
    expect(back.getChild("actions")!.attrs.execute).toBe("next");
    await execute(calc, req({ sessionid }, { a: "77" }), me, sessions, "localhost");
    await execute(calc, req({ sessionid }, { b: "23" }), me, sessions, "localhost");
    const done = await execute(calc, req({ sessionid }, { op: "+" }), me, sessions, "localhost");
    expect(field(done, "result")!.getChildText("value")).toBe("100");
  });

  it("refuses actions the stage does not allow (bad-action), a missing field (bad-payload), keeps the session after a refusal", async () => {
    const sessions = new CommandSessions(60_000, 5);
    const sessionid = (await execute(calc, req({}), me, sessions, "localhost")).attrs.sessionid!;
    expect(await refusal(execute(calc, req({ sessionid, action: "prev" }), me, sessions, "localhost"))).toBe("bad-request/bad-action");
    expect(await refusal(execute(calc, req({ sessionid, action: "complete" }, { a: "1" }), me, sessions, "localhost"))).toBe("bad-request/bad-action");
    expect(await refusal(execute(calc, req({ sessionid, action: "next" }), me, sessions, "localhost"))).toBe("bad-request/bad-payload");
    expect(await refusal(execute(calc, req({ sessionid, action: "next" }, { b: "1" }), me, sessions, "localhost"))).toBe("bad-request/bad-payload");
    await execute(calc, req({ sessionid, action: "next" }, { a: "forty-two" }), me, sessions, "localhost");
    await execute(calc, req({ sessionid, action: "next" }, { b: "1" }), me, sessions, "localhost");
    expect(await refusal(execute(calc, req({ sessionid, action: "next" }, { op: "+" }), me, sessions, "localhost"))).toBe("bad-request/bad-action");
    expect(await refusal(execute(calc, req({ sessionid, action: "complete" }, { op: "*" }), me, sessions, "localhost"))).toBe("not-acceptable");
    expect(await refusal(execute(calc, req({ sessionid, action: "complete" }, { op: "+" }), me, sessions, "localhost"))).toBe("bad-request");
    expect(sessions.size).toBe(1);
  });

  it("a session belongs to its requester and command; it expires when idle; the limit per requester holds", async () => {
    const sessions = new CommandSessions(1000, 2);
    const sessionid = (await execute(calc, req({}), me, sessions, "localhost")).attrs.sessionid!;
    const other = parseJid("admin@example.com/laptop");
    expect(await refusal(execute(calc, req({ sessionid, action: "next" }, { a: "1" }), other, sessions, "localhost"))).toBe("bad-request/bad-sessionid");
    expect(await refusal(execute({ ...calc, node: "other" }, { ...req({ sessionid, action: "next" }, { a: "1" }), node: "other" }, me, sessions, "localhost"))).toBe("bad-request/bad-sessionid");
    await execute(calc, req({}), me, sessions, "localhost");
    expect(await refusal(execute(calc, req({}), me, sessions, "localhost"))).toBe("resource-constraint");
    expect(sessions.lookup(sessionid, Date.now() + 2000).kind).toBe("ended");
    expect(sessions.lookup("never", Date.now()).kind).toBe("unknown");
  });
});

describe("parseCommand", () => {
  const parse = (attrs: Record<string, string>) => parseCommand(xml("command", { xmlns: CMDS, ...attrs }));
  it("defaults the action to execute and finds the form", () => {
    expect(parse({ node: "n" })).toMatchObject({ node: "n", action: "execute", sessionid: undefined, form: undefined });
  });
  it("malformed-action for an unknown action, bad-request without a node, bad-sessionid for an empty sessionid", () => {
    expect((parse({ node: "n", action: "run" }) as StanzaError).extra?.name).toBe("malformed-action");
    expect((parse({}) as StanzaError).condition).toBe("bad-request");
    expect((parse({ node: "n", sessionid: "" }) as StanzaError).extra?.name).toBe("bad-sessionid");
  });
});

describe("actionsOf", () => {
  it("a single form completes by default", () => {
    expect(actionsOf(0, 1).toString()).toBe(`<actions execute="complete"><complete/></actions>`);
  });
});
