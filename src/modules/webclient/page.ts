// The web client's page: Converse.js from <path>/dist/, started with the settings that point it
// at this server (its WebSocket endpoint, RFC 7395; its domain), under a Content-Security-Policy
// that lets only the page's own files run: the one inline script is allowed by its hash.
import { createHash } from "node:crypto";

/** What the page is made from, per request (the WebSocket URL may follow the request's Host). */
export interface PageInput {
  /** The module's path, without a trailing '/': "/conversejs". */
  base: string;
  domain: string;
  websocketUrl: string;
  viewMode: string;
  discoverConnectionMethods: boolean;
  lockedDomain: boolean;
  allowRegistration: boolean;
  /** The operator's own Converse.js settings, applied last. */
  extra: Record<string, unknown>;
}

/** Converse.js's settings (https://conversejs.org/docs/html/configuration.html) for this server. */
export function converseSettings(p: PageInput): Record<string, unknown> {
  return {
    websocket_url: p.websocketUrl,
    discover_connection_methods: p.discoverConnectionMethods,
    assets_path: `${p.base}/dist`,
    view_mode: p.viewMode,
    allow_registration: p.allowRegistration,
    registration_domain: p.domain,
    default_domain: p.domain,
    domain_placeholder: p.domain,
    ...(p.lockedDomain ? { locked_domain: p.domain } : {}),
    ...p.extra,
  };
}

/** JSON that can sit inside a <script> element: no "</script>", no "<!--". */
function scriptJson(v: unknown): string {
  return JSON.stringify(v).replace(/</g, "\\u003c");
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * The policy: scripts, styles and fonts of this origin only, plus the inline start script by its
 * hash. What Converse.js needs beyond that, and why:
 * - 'wasm-unsafe-eval': OMEMO's curve25519 is WebAssembly (dist/curve25519_compiled.wasm);
 * - 'unsafe-inline' styles: its components add <style> elements and style attributes as they
 *   render (no script comes with them);
 * - connect-src: the WebSocket, and https: for the HTTP upload slots (the upload service may be
 *   an S3 bucket elsewhere), the files contacts share (Converse asks their type with HEAD, and
 *   fetches OMEMO-encrypted ones to decrypt) and host-meta (XEP-0156) when discovery is on;
 * - img-src and media-src: avatars (data:), files being sent (blob:), and images, audio and video
 *   shared from any server (https:).
 */
export function contentSecurityPolicy(scriptHash: string, websocketUrl: string): string {
  return [
    "default-src 'none'",
    `script-src 'self' '${scriptHash}' 'wasm-unsafe-eval'`,
    "style-src 'self' 'unsafe-inline'",
    "font-src 'self'",
    `connect-src 'self' ${websocketUrl} https:`,
    "img-src 'self' data: blob: https:",
    "media-src 'self' data: blob: https:",
    "manifest-src 'self'",
    "worker-src 'self'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join("; ");
}

/** A source expression allows no spaces, commas or semicolons: a URL with one is left out. */
export function cspSource(url: string): string {
  return /^[^\s;,']+$/.test(url) ? url : "";
}

/** The page and the headers it goes with. */
export function page(p: PageInput): { html: string; headers: Record<string, string> } {
  // Converse defines its elements only where none is defined yet: the full-screen footer it would
  // show loads its sponsors' logos from conversejs.org, a third party every visitor would meet.
  const script = `customElements.define("converse-footer", class extends HTMLElement {}); converse.initialize(${scriptJson(converseSettings(p))});`;
  const hash = `sha256-${createHash("sha256").update(script).digest("base64")}`;
  const dist = escapeHtml(`${p.base}/dist`);
  const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(p.domain)}</title>
<link rel="icon" href="${dist}/images/favicon.ico">
<link rel="stylesheet" href="${dist}/converse.min.css">
<script type="module" src="${dist}/converse.min.js"></script>
<script type="module">${script}</script>
</head>
<body>
<noscript>This chat needs JavaScript.</noscript>
</body>
</html>
`;
  return {
    html,
    headers: {
      "content-type": "text/html; charset=utf-8",
      "content-security-policy": contentSecurityPolicy(hash, cspSource(p.websocketUrl)),
      "cache-control": "no-cache",
      "referrer-policy": "no-referrer",
      "x-content-type-options": "nosniff",
    },
  };
}
