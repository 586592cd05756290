// A web client out of the box: Converse.js, installed with the server (npm's converse.js, no
// third-party CDN), served by the HTTP listeners at a path of their own ("/conversejs") and set up
// for this server: its WebSocket endpoint (RFC 7395, the URL host-meta gives, XEP-0156), its
// domain, and registration when the server allows it (XEP-0077). No protocol of its own.
//   page.ts  the page, Converse's settings and the Content-Security-Policy
//   files.ts the build's files under <path>/dist/
import type { IncomingMessage, ServerResponse } from "node:http";
import { createRequire } from "node:module";
import { dirname } from "node:path";
import type { TLSSocket } from "node:tls";
import { defineModule } from "../../core/module.ts";
import { bool, custom, oneOf, optStr } from "../../core/schema.ts";
import { WEBSOCKET_PATH, websocketUrl } from "../../transports/http.ts";
import { DistFiles, notFound } from "./files.ts";
import { page } from "./page.ts";

/** A path of one or more segments of URL-safe characters, none of only dots, no trailing '/'. */
function parsePath(raw: unknown): string {
  const segments = typeof raw === "string" ? raw.split("/").slice(1) : [];
  const ok = typeof raw === "string" && raw.startsWith("/") && segments.every((s) => /^[A-Za-z0-9._~-]+$/.test(s) && !/^\.+$/.test(s));
  if (!ok) throw "must be a path such as /conversejs: segments of letters, digits and . _ ~ -, no trailing '/'";
  if (raw === WEBSOCKET_PATH || raw === "/.well-known" || raw.startsWith("/.well-known/")) throw `${raw} is the server's own`;
  return raw;
}

/** More Converse.js settings: a map of setting to value (from the environment, its JSON text). */
function parseSettings(raw: unknown): Record<string, unknown> {
  let v = raw;
  if (typeof v === "string") {
    try {
      v = JSON.parse(v);
    } catch {
      throw "must be a JSON map of Converse.js setting to value";
    }
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw "must be a map of Converse.js setting to value";
  return v as Record<string, unknown>;
}

export const WEBCLIENT_OPTIONS = {
  enabled: bool("Serve the web client (Converse.js) on the HTTP listeners.", true),
  path: custom("string", "Where the page is (https://<domain>:5281/conversejs); its files are under <path>/dist/.", "/conversejs", parsePath),
  viewMode: oneOf("Converse.js's layout: the whole window, a chat overlay in a corner, or embedded in the page.", ["fullscreen", "overlayed", "embedded"], "fullscreen"),
  lockedDomain: bool("The login form asks for the user name only: accounts of this server's domain.", true),
  discoverConnectionMethods: bool("Let Converse.js look up the connection methods (XEP-0156) of the domain a user logs in to, at https://<that domain>/.well-known/host-meta, instead of this server's WebSocket URL.", false),
  dist: optStr("Folder of a Converse.js build to serve (its dist folder); default: the converse.js package installed with the server."),
  settings: custom("map", "More Converse.js settings, passed as they are and over the server's (https://conversejs.org/docs/html/configuration.html), e.g. {\"theme\": \"dracula\"}.", {} as Record<string, unknown>, parseSettings),
};

/** The installed package's dist folder, or undefined when converse.js is not installed. */
function installedDist(): string | undefined {
  try {
    return dirname(createRequire(import.meta.url).resolve("converse.js/dist/converse.min.js"));
  } catch {
    return undefined;
  }
}

/** Whether the request came over TLS (the HTTPS listener), so the page gets wss://. */
const encrypted = (req: IncomingMessage) => (req.socket as TLSSocket).encrypted === true;

/** A Host header (RFC 9110 §7.2) fit to name the WebSocket URL in the page and its policy: a name or an address, and a port. */
const HOST = /^(?:[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.?|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

/** The build to serve, or the text that says there is none. */
function openBuild(folder: string | undefined): DistFiles | string {
  try {
    const files = folder === undefined ? undefined : new DistFiles(folder);
    if (files?.has("converse.min.js")) return files;
  } catch {
    // A folder that cannot be read is no build either.
  }
  return `The web client is not installed: no Converse.js build in ${folder ?? "node_modules/converse.js/dist"}.\n`;
}

function answer(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { ...headers, "content-type": "text/plain; charset=utf-8" });
  res.end(text);
}

export default defineModule({
  name: "webclient",
  specs: [],
  options: WEBCLIENT_OPTIONS,
  setup(ctx) {
    const o = ctx.options;
    if (!o.enabled) return;
    const build = openBuild(o.dist ?? installedDist());
    if (typeof build === "string") ctx.log.warn(`webclient: ${build.trim()} ${o.path} answers 404 (npm install, or set modules.webclient.dist)`);
    const { http, registration } = ctx.settings;
    const dist = `${o.path}/dist/`;

    const servePage = (req: IncomingMessage, res: ServerResponse) => {
      if (req.method !== "GET" && req.method !== "HEAD") return answer(res, 405, "method not allowed\n", { allow: "GET, HEAD" });
      if (http.publicUrl === undefined && !HOST.test(req.headers.host ?? "")) return answer(res, 400, "bad Host header\n");
      const p = page({
        base: o.path, domain: ctx.domain.domain, viewMode: o.viewMode, lockedDomain: o.lockedDomain,
        discoverConnectionMethods: o.discoverConnectionMethods, allowRegistration: registration.enabled, extra: o.settings,
        websocketUrl: websocketUrl(req, http.publicUrl, encrypted(req) || http.secureProxy),
      });
      res.writeHead(200, { ...p.headers, "content-length": Buffer.byteLength(p.html) });
      res.end(req.method === "HEAD" ? undefined : p.html);
    };

    ctx.httpRoute(`${o.path}/`, (req, res, path) => {
      if (typeof build === "string") return notFound(res, build);
      if (path.startsWith(dist)) return build.handle(req, res, path.slice(dist.length));
      if (path === o.path || path === `${o.path}/`) return servePage(req, res);
      notFound(res);
    });
  },
});
