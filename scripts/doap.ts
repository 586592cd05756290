// The DOAP description (the format xmpp.org reads to list servers and the specifications they
// implement), generated from xeps/: one xmpp:SupportedXep per XEP claim with its version, status
// and note; RFCs as plain doap:implements. Written by `node scripts/xeps-table.ts` with the
// README table, and kept in step by test/xeps.test.ts.
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { escapeXML, escapeXMLText } from "ltx";

export interface DoapClaim { spec: string; name: string; version: string; status: string; notes?: string }

export function readClaims(dir: string): DoapClaim[] {
  return readdirSync(dir).filter((f) => f.endsWith(".json"))
    .map((f) => JSON.parse(readFileSync(join(dir, f), "utf8")) as DoapClaim)
    .sort((a, b) => (a.spec.startsWith("RFC") === b.spec.startsWith("RFC") ? a.spec.localeCompare(b.spec) : a.spec.startsWith("RFC") ? -1 : 1));
}

function url(spec: string): string {
  const rfc = /^RFC (\d+)$/.exec(spec);
  if (rfc) return `https://www.rfc-editor.org/rfc/rfc${rfc[1]}`;
  const xep = /^XEP-(\d{4})$/.exec(spec);
  if (xep) return `https://xmpp.org/extensions/xep-${xep[1]}.html`;
  throw new Error(`xeps/: '${spec}' is neither an RFC nor a XEP`);
}

export function doap(dir: string): string {
  const implementsLines = readClaims(dir).flatMap((c) => {
    if (c.spec.startsWith("RFC")) return [`    <implements rdf:resource="${escapeXML(url(c.spec))}"/>`];
    return [
      "    <implements>",
      "      <xmpp:SupportedXep>",
      `        <xmpp:xep rdf:resource="${escapeXML(url(c.spec))}"/>`,
      `        <xmpp:version>${escapeXMLText(c.version)}</xmpp:version>`,
      `        <xmpp:status>${escapeXMLText(c.status)}</xmpp:status>`,
      ...(c.notes ? [`        <xmpp:note xml:lang="en">${escapeXMLText(c.notes)}</xmpp:note>`] : []),
      "      </xmpp:SupportedXep>",
      "    </implements>",
    ];
  });
  return [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<!-- Generated from xeps/ by scripts/xeps-table.ts; do not edit. -->`,
    `<rdf:RDF xmlns="http://usefulinc.com/ns/doap#"`,
    `         xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"`,
    `         xmlns:xmpp="https://linkmauve.fr/ns/xmpp-doap#">`,
    `  <Project>`,
    `    <name>xmppd</name>`,
    `    <shortdesc xml:lang="en">An XMPP server in TypeScript with WhatsApp-grade delivery</shortdesc>`,
    `    <license rdf:resource="https://spdx.org/licenses/AGPL-3.0-or-later.html"/>`,
    `    <programming-language>TypeScript</programming-language>`,
    `    <category rdf:resource="https://linkmauve.fr/ns/xmpp-doap#category-server"/>`,
    `    <os>Linux</os>`,
    ...implementsLines,
    `  </Project>`,
    `</rdf:RDF>`,
    "",
  ].join("\n");
}
