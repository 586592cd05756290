// Scenario 4, offline (XEP-0160): one account sends 1,000 messages to another that is offline;
// the recipient then logs in and sends initial presence, upon which the server delivers what it
// stored. Measured: time from that presence to the last message (and from the connect), with
// every message there once and in order; and, in the detail, the time to store the batch (from
// sending it to the answer of a ping sent after it). A server that does not advertise 'msgoffline' has no
// offline store: the scenario says "not built" instead of counting bounces.
import { Conn } from "../lib/conn.ts";
import { bodyScanner } from "../lib/scan.ts";
import { round, sleep } from "../lib/stats.ts";
import { discoFeatures, failed, notBuilt, ok, type Cells, type ScenarioContext } from "./common.ts";

export async function offline(ctx: ScenarioContext, sender: string, recipient: string, count = 1000): Promise<Cells> {
  let storeMs = 0;
  const login = (user: string, presence: boolean) => Conn.login(ctx.target, { user, password: ctx.password, resource: "off", presence });
  const s = await login(sender, true);
  try {
    const info = await discoFeatures(s, ctx.target.domain);
    if (!info.features.includes("msgoffline")) return { "offline.1000": notBuilt("no msgoffline feature (XEP-0160)") };
    s.discardText();
    const to = `${recipient}@${ctx.target.domain}`;
    let out = "";
    for (let n = 1; n <= count; n++) out += `<message to='${to}' type='chat' id='o${n}'><body>0:${n}</body></message>`;
    const tSend = performance.now();
    s.send(out);
    // The server handles one stream's stanzas in order: when the ping is answered, all are stored.
    await s.iq("offping", `<iq type='get' id='offping' to='${ctx.target.domain}'><ping xmlns='urn:xmpp:ping'/></iq>`, 60_000);
    storeMs = round(performance.now() - tSend, 1);
    await sleep(1000);
  } finally {
    s.close();
  }
  const tConnect = performance.now();
  const r = await login(recipient, false);
  let received = 0;
  let anomalies = 0;
  let last = 0;
  let tLast = 0;
  r.discardText();
  const scan = bodyScanner((from, seq) => {
    if (from !== 0 || seq !== last + 1) anomalies++;
    last = Math.max(last, seq);
    received++;
    tLast = performance.now();
  });
  r.onChunk = scan;
  const tPresence = performance.now();
  r.send("<presence/>");
  const deadline = tPresence + 30_000;
  while (received < count && performance.now() < deadline) await sleep(1);
  await sleep(200); // duplicates after the last one would show here
  r.destroy();
  const detail = {
    messages: count, received, anomalies, errors: scan.errors, storeMs,
    fromPresenceMs: round(tLast - tPresence, 1), fromConnectMs: round(tLast - tConnect, 1),
  };
  ctx.log(`  offline: ${count} stored in ${storeMs} ms (send to the ping's answer); ${received}/${count} in ${detail.fromPresenceMs} ms after presence (${detail.fromConnectMs} ms after connect)`);
  if (received !== count) return { "offline.1000": failed(`${received} of ${count} delivered`, detail) };
  if (anomalies || scan.errors) return { "offline.1000": failed(`${anomalies} duplicated or reordered, ${scan.errors} errors`, detail) };
  return { "offline.1000": ok(detail.fromPresenceMs, detail) };
}
