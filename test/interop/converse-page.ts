// Converse.js, the browser client, in headless Chromium (driven by puppeteer-core), for the interop
// tests that run it over WebSocket (converse.test.ts) and over BOSH (converse-bosh.test.ts): a
// page served from loopback loads converse.js from npm, with a plugin that hands its API to the
// test, and logs Romeo in over the connection the test names.
import { existsSync, readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { extname, join, normalize } from "node:path";
import puppeteer, { type Browser, type Page } from "puppeteer-core";

const CHROMIUM = "/usr/bin/chromium";
export const installed = existsSync(CHROMIUM);
export const ci = process.env.CI === "true";
const dist = join(import.meta.dirname, "..", "..", "node_modules", "converse.js", "dist");
const TYPES: Record<string, string> = { ".js": "text/javascript", ".css": "text/css", ".json": "application/json", ".wasm": "application/wasm", ".html": "text/html" };

/** The page: converse.js with a plugin that hands its API to the test, and Romeo's login over `connection` (websocket_url or bosh_service_url). */
const page = (connection: Record<string, string>) => `<!doctype html>
<html><head><meta charset="utf-8"><link rel="stylesheet" href="/dist/converse.min.css"></head>
<body><script type="module">
  import converse from "/dist/converse.min.js";
  window.seen = { connected: false, messages: [], error: null };
  converse.plugins.add("test-hooks", {
    initialize() {
      const { api } = this._converse;
      window.api = api;
      window.session = this._converse.session;
      api.listen.on("connected", () => { window.seen.connected = true; });
      api.listen.on("message", (data) => {
        const body = data.stanza && data.stanza.querySelector("body");
        if (body) window.seen.messages.push({ from: data.stanza.getAttribute("from"), body: body.textContent });
      });
    },
  });
  converse.initialize({
    ...${JSON.stringify(connection)},
    discover_connection_methods: false,
    jid: "romeo@localhost/converse",
    password: "pw",
    auto_login: true,
    view_mode: "fullscreen",
    whitelisted_plugins: ["test-hooks"],
    loglevel: "info",
    play_sounds: false,
    show_desktop_notifications: false,
  }).catch((e) => { window.seen.error = String(e); });
</script></body></html>`;

/** Serves the page and converse's files on loopback; the page's URL. */
export async function serveConverse(connection: Record<string, string>): Promise<{ web: Server; url: string }> {
  const html = page(connection);
  const web = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0]!;
    if (path === "/") {
      res.writeHead(200, { "content-type": "text/html" });
      return res.end(html);
    }
    // Converse fetches some files (its WebAssembly) relative to the page: both map onto dist/.
    const file = normalize(join(dist, path.replace(/^\/dist\//, "/")));
    if (!file.startsWith(dist) || !existsSync(file)) {
      res.writeHead(404);
      return res.end();
    }
    res.writeHead(200, { "content-type": TYPES[extname(file)] ?? "application/octet-stream" });
    res.end(readFileSync(file));
  });
  await new Promise<void>((r) => web.listen(0, "127.0.0.1", r));
  return { web, url: `http://127.0.0.1:${(web.address() as { port: number }).port}/` };
}

export function launchChromium(): Promise<Browser> {
  return puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    // The server's certificate is the self-signed one made at start; no sandbox as root in CI.
    args: ["--no-sandbox", "--ignore-certificate-errors", "--disable-gpu", "--no-first-run"],
  });
}

/** What the page printed and threw, for the message of a failed wait. */
const consoleOf = new WeakMap<Page, string[]>();

/** A new tab that keeps what the page prints, at `url`. */
export async function openPage(browser: Browser, url: string): Promise<Page> {
  const p = await browser.newPage();
  const log: string[] = [];
  consoleOf.set(p, log);
  p.on("console", (m) => log.push(`${m.type()}: ${m.text()}`));
  p.on("pageerror", (e) => log.push(`pageerror: ${String(e)}`));
  await p.goto(url);
  return p;
}

/** Polls an expression in the page (it may be a promise) until it is truthy; its value. */
export async function until<T>(p: Page, expression: string, what: string, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = (await p.evaluate(expression)) as T;
    if (v) return v;
    if (Date.now() > deadline) {
      const log = (consoleOf.get(p) ?? []).slice(-30).join("\n");
      throw new Error(`converse: no ${what}; page state ${JSON.stringify(await p.evaluate("window.seen"))}; console:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}
