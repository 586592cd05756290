// The web client over real HTTP: the page at /conversejs names this server's WebSocket endpoint
// (wss:// on the HTTPS listener, ws:// on the plain one, http.publicUrl when set) and its domain,
// under a Content-Security-Policy that lets its one inline script run by hash; Converse.js's files
// come from <path>/dist/ with their types, ETags and gzip; a request for anything outside the
// build (.., encoded or not, a backslash, a NUL) is 404. Without a build the path says so.
import { createHash } from "node:crypto";
import { request as httpRequest, type IncomingHttpHeaders } from "node:http";
import { request as httpsRequest } from "node:https";
import { gunzipSync } from "node:zlib";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer, type TestServer } from "../helpers/server.ts";

const dist = join(import.meta.dirname, "..", "..", "node_modules", "converse.js", "dist");

interface Answer { status: number; headers: IncomingHttpHeaders; body: Buffer }

/** One request with the path sent exactly as given (fetch would resolve "..": these must reach the server). */
function get(port: number, path: string, opts: { method?: string; headers?: Record<string, string>; tls?: boolean } = {}): Promise<Answer> {
  const request = opts.tls === false ? httpRequest : httpsRequest;
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, method: opts.method ?? "GET", headers: opts.headers, rejectUnauthorized: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on("error", reject);
    req.end();
  });
}

/** The settings the page starts Converse.js with, and the inline script's text. */
function settingsOf(html: string): { script: string; settings: Record<string, unknown> } {
  const script = /<script type="module">(.*)<\/script>/.exec(html)![1]!;
  return { script, settings: JSON.parse(/ converse\.initialize\((.*)\);$/.exec(script)![1]!) as Record<string, unknown> };
}

let t: TestServer;
let https: number;
beforeAll(async () => {
  t = await startServer({ config: { registration: { enabled: true } } });
  https = t.server.ports.https!;
});
afterAll(() => t?.stop());

describe("the web client's page", () => {
  it("is at /conversejs, with Converse.js set up for this server's WebSocket and domain", async () => {
    const r = await get(https, "/conversejs");
    expect(r.status).toBe(200);
    expect(r.headers["content-type"]).toBe("text/html; charset=utf-8");
    expect(r.headers["cache-control"]).toBe("no-cache");
    const html = r.body.toString();
    expect(html).toContain(`<script type="module" src="/conversejs/dist/converse.min.js"></script>`);
    expect(html).toContain(`<link rel="stylesheet" href="/conversejs/dist/converse.min.css">`);
    const { settings } = settingsOf(html);
    expect(settings).toMatchObject({
      websocket_url: `wss://127.0.0.1:${https}/xmpp-websocket`,
      discover_connection_methods: false,
      assets_path: "/conversejs/dist",
      view_mode: "fullscreen",
      allow_registration: true,
      locked_domain: "localhost",
      registration_domain: "localhost",
    });
    // The same page with a trailing '/'.
    expect((await get(https, "/conversejs/")).body.toString()).toBe(html);
  });

  it("runs only its own scripts: the inline one by its hash, nothing from elsewhere", async () => {
    const r = await get(https, "/conversejs");
    const csp = Object.fromEntries(String(r.headers["content-security-policy"]).split("; ").map((d) => [d.split(" ")[0], d.split(" ").slice(1)]));
    const hash = `'sha256-${createHash("sha256").update(settingsOf(r.body.toString()).script).digest("base64")}'`;
    expect(csp["default-src"]).toEqual(["'none'"]);
    expect(csp["script-src"]).toEqual(["'self'", hash, "'wasm-unsafe-eval'"]);
    expect(csp["style-src"]).toEqual(["'self'", "'unsafe-inline'"]);
    expect(csp["connect-src"]).toContain(`wss://127.0.0.1:${https}/xmpp-websocket`);
    expect(csp["frame-ancestors"]).toEqual(["'none'"]);
    expect(csp["base-uri"]).toEqual(["'none'"]);
    expect(r.headers["x-content-type-options"]).toBe("nosniff");
  });

  it("names ws:// on the plain listener, and refuses a Host it could not put in the page", async () => {
    const plain = t.server.ports.http!;
    const r = await get(plain, "/conversejs", { tls: false });
    expect(settingsOf(r.body.toString()).settings.websocket_url).toBe(`ws://127.0.0.1:${plain}/xmpp-websocket`);
    expect((await get(plain, "/conversejs", { tls: false, headers: { host: "evil.example; script-src *" } })).status).toBe(400);
  });

  it("answers HEAD with the page's headers and no body; other methods with 405", async () => {
    const head = await get(https, "/conversejs", { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.body.length).toBe(0);
    expect(Number(head.headers["content-length"])).toBe((await get(https, "/conversejs")).body.length);
    expect((await get(https, "/conversejs", { method: "POST" })).status).toBe(405);
  });
});

describe("Converse.js's files under /conversejs/dist/", () => {
  it("are served with their types", async () => {
    const types: Record<string, string> = {
      "converse.min.js": "text/javascript; charset=utf-8",
      "converse.min.css": "text/css; charset=utf-8",
      "emoji.json": "application/json",
      "curve25519_compiled.wasm": "application/wasm",
      "libomemo.esm.min.js": "text/javascript; charset=utf-8",
      "chunkjs/locales/de-LC_MESSAGES-converse-po.js": "text/javascript; charset=utf-8",
      "sounds/msg_received.ogg": "audio/ogg",
      "sounds/msg_received.mp3": "audio/mpeg",
      "webfonts/muli.ttf": "font/ttf",
      "images/logo/conversejs-filled.svg": "image/svg+xml",
      "images/favicon.ico": "image/x-icon",
    };
    for (const [file, type] of Object.entries(types)) {
      const r = await get(https, `/conversejs/dist/${file}`);
      expect(r.status, file).toBe(200);
      expect(r.headers["content-type"], file).toBe(type);
      expect(r.headers["x-content-type-options"]).toBe("nosniff");
    }
    const js = await get(https, "/conversejs/dist/converse.min.js");
    expect(js.body.equals(readFileSync(join(dist, "converse.min.js")))).toBe(true);
  });

  it("carry an ETag: asked again, 304; gzip to a client that takes it", async () => {
    const first = await get(https, "/conversejs/dist/converse.min.css");
    expect(first.headers["cache-control"]).toBe("public, no-cache");
    const etag = first.headers.etag!;
    const again = await get(https, "/conversejs/dist/converse.min.css", { headers: { "if-none-match": etag } });
    expect(again.status).toBe(304);
    expect(again.body.length).toBe(0);
    const zipped = await get(https, "/conversejs/dist/converse.min.css", { headers: { "accept-encoding": "gzip, br" } });
    expect(zipped.headers["content-encoding"]).toBe("gzip");
    expect(zipped.headers.vary).toBe("Accept-Encoding");
    expect(Number(zipped.headers["content-length"])).toBeLessThan(first.body.length / 2);
    expect(gunzipSync(zipped.body).equals(first.body)).toBe(true);
    expect((await get(https, "/conversejs/dist/converse.min.css", { headers: { "accept-encoding": "gzip;q=0" } })).headers["content-encoding"]).toBeUndefined();
  });

  it("answer HEAD with the headers of GET and no body", async () => {
    const head = await get(https, "/conversejs/dist/emoji.json", { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.body.length).toBe(0);
    expect(Number(head.headers["content-length"])).toBe(readFileSync(join(dist, "emoji.json")).length);
    expect(head.headers["content-type"]).toBe("application/json");
  });

  it("are only the build's: no way out of the folder, no unknown name", async () => {
    const attempts = [
      "/conversejs/dist/../../../package.json",
      "/conversejs/dist/..%2f..%2f..%2fpackage.json",
      "/conversejs/dist/%2e%2e/%2e%2e/%2e%2e/package.json",
      "/conversejs/dist/%2E%2E%2F%2E%2E%2Fpackage.json",
      "/conversejs/dist/..\\..\\..\\package.json",
      "/conversejs/dist/..%5c..%5cpackage.json",
      "/conversejs/dist//etc/passwd",
      "/conversejs/dist/%2fetc%2fpasswd",
      "/conversejs/dist/converse.min.js%00.png",
      "/conversejs/dist/./converse.min.js",
      "/conversejs/dist/sounds/README",
      "/conversejs/dist/",
      "/conversejs/dist",
      "/conversejs/dist/%zz",
      "/conversejs/package.json",
      "/conversejs/../package.json",
      "/conversejsx",
    ];
    for (const path of attempts) {
      const r = await get(https, path);
      expect(r.status, path).toBe(404);
      expect(r.body.toString(), path).not.toContain("converse.js");
    }
    expect((await get(https, "/conversejs/dist/converse.min.js", { method: "PUT" })).status).toBe(405);
  });
});

describe("configured otherwise", () => {
  it("takes another path, the server's publicUrl, and Converse.js settings of the operator's", async () => {
    const s = await startServer({ config: { http: { host: "127.0.0.1", tlsHost: "127.0.0.1", publicUrl: "wss://chat.example.org/xmpp-websocket" },
      modules: { webclient: { path: "/chat/web", viewMode: "overlayed", lockedDomain: false, settings: { theme: "dracula" } } } } });
    try {
      expect((await get(s.server.ports.https!, "/conversejs")).status).toBe(404);
      const r = await get(s.server.ports.https!, "/chat/web");
      const { settings } = settingsOf(r.body.toString());
      expect(settings).toMatchObject({ websocket_url: "wss://chat.example.org/xmpp-websocket", view_mode: "overlayed", allow_registration: false, assets_path: "/chat/web/dist", theme: "dracula" });
      expect(settings.locked_domain).toBeUndefined();
      expect(String(r.headers["content-security-policy"])).toContain("connect-src 'self' wss://chat.example.org/xmpp-websocket https:");
      expect((await get(s.server.ports.https!, "/chat/web/dist/converse.min.js", { method: "HEAD" })).status).toBe(200);
    } finally {
      await s.stop();
    }
  });

  it("without a Converse.js build, answers 404 saying so; turned off, nothing is there", async () => {
    const s = await startServer({ config: { modules: { webclient: { dist: "/nonexistent/converse.js/dist" } } } });
    try {
      for (const path of ["/conversejs", "/conversejs/dist/converse.min.js"]) {
        const r = await get(s.server.ports.https!, path);
        expect(r.status).toBe(404);
        expect(r.body.toString()).toBe("The web client is not installed: no Converse.js build in /nonexistent/converse.js/dist.\n");
      }
    } finally {
      await s.stop();
    }
    const off = await startServer({ config: { modules: { webclient: { enabled: false } } } });
    try {
      const r = await get(off.server.ports.https!, "/conversejs");
      expect([r.status, r.body.toString()]).toEqual([404, "not found\n"]);
    } finally {
      await off.stop();
    }
  });
});
