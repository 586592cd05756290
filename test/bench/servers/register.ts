// Bulk accounts on a rival through in-band registration (XEP-0077 §3.1), one short stream per
// account, many at once. The rivals' own CLIs start a VM per account, which takes hours for 100k.
import { Conn, LoginError, type Target } from "../lib/conn.ts";
import { pool } from "../lib/stats.ts";

export async function registerInBand(target: Target, users: string[], password: string, concurrency = 64): Promise<void> {
  let done = 0;
  const t0 = Date.now();
  await pool(users.length, concurrency, async (i) => {
    const user = users[i]!;
    for (let attempt = 0; ; attempt++) {
      try {
        const c = await Conn.open(target, "plain");
        try {
          await c.openStream(target.domain);
          const res = await c.iq("reg1", `<iq type='set' id='reg1'><query xmlns='jabber:iq:register'><username>${user}</username><password>${password}</password></query></iq>`);
          if (/type=["']error["']/.test(res) && !/<conflict/.test(res)) throw new LoginError(`registering ${user}: ${res}`);
        } finally {
          c.close();
        }
        break;
      } catch (e) {
        if (attempt >= 3) throw e;
      }
    }
    if (++done % 10_000 === 0) process.stderr.write(`  registered ${done}/${users.length} (${Math.round((Date.now() - t0) / 1000)} s)\n`);
  });
}
