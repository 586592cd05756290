// The storage contract on Cassandra (scripts/services/cassandra.sh): one fresh keyspace for the
// run, emptied before each test and dropped at the end. Skipped when no Cassandra answers,
// except in CI (test/helpers/services.ts).
import { afterAll, describe } from "vitest";
import cassandra from "cassandra-driver";
import { CassandraStorage } from "../../src/storage/cassandra/index.ts";
import { serviceUp, services } from "../helpers/services.ts";
import { storageContract } from "./contract.ts";

const up = await serviceUp("cassandra");
const { host, port, localDataCenter } = services.cassandra;
const keyspace = `xmppd_test_${process.pid}_${Date.now().toString(36)}`;
const options = {
  contactPoints: [`${host}:${port}`], localDataCenter, keyspace,
  replication: { class: "SimpleStrategy", replication_factor: 1 },
};

/** A client of our own for the test's housekeeping: emptying and dropping the keyspace. */
let admin: InstanceType<typeof cassandra.Client> | undefined;
async function adminClient() {
  admin ??= new cassandra.Client({ contactPoints: options.contactPoints, localDataCenter });
  await admin.connect();
  return admin;
}

afterAll(async () => {
  if (!admin) return;
  await admin.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`);
  await admin.shutdown();
}, 60_000);

describe.skipIf(!up)("cassandra", () => {
  storageContract("cassandra", async () => {
    const s = new CassandraStorage(options);
    await s.ready();
    const c = await adminClient();
    const tables = await c.execute("SELECT table_name FROM system_schema.tables WHERE keyspace_name = ?", [keyspace], { prepare: true });
    for (const { table_name } of tables.rows) await c.execute(`TRUNCATE ${keyspace}.${table_name}`);
    return s;
  }, async (old) => {
    await old.close();
    const s = new CassandraStorage(options);
    await s.ready();
    return s;
  });
});
