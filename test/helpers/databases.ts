import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import pg from "pg";
import { inject } from "vitest";
import { openDatabase, type Database } from "../../src/storage/db.js";
import { migrate } from "../../src/storage/migrate.js";

export type DriverName = "pglite" | "postgres";

/** The drivers this run covers: PGlite always, PostgreSQL when a server is available. */
export function drivers(): DriverName[] {
  return inject("pgAdminUrl") ? ["pglite", "postgres"] : ["pglite"];
}

export interface TestDatabase {
  database: Database;
  /** The PostgreSQL URL of this fresh database (postgres only): a second process or node can open it. */
  url: string | null;
  /** Opens another independent connection pool to the same database (a second "node"). */
  openAnother(): Promise<Database>;
  cleanup(): Promise<void>;
}

/** A fresh, migrated database: in-memory PGlite, or a new database on the PostgreSQL server. */
export async function createTestDatabase(driver: DriverName): Promise<TestDatabase> {
  if (driver === "pglite") {
    const template = new Blob([await readFile(inject("pgliteTemplate"))]);
    const database = await openDatabase({ driver: "pglite-memory", loadDataDir: template });
    return {
      database,
      url: null,
      openAnother: () => Promise.reject(new Error("PGlite is single-process")),
      cleanup: () => database.close(),
    };
  }
  const adminUrl = inject("pgAdminUrl");
  if (!adminUrl) throw new Error("PostgreSQL is not available in this run");
  const name = `gatehouse_test_${randomBytes(6).toString("hex")}`;
  await withAdmin(adminUrl, (client) => client.query(`CREATE DATABASE ${name}`));
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const database = await openDatabase({ driver: "postgres", url: url.toString(), poolSize: 20 });
  await migrate(database);
  const others: Database[] = [];
  return {
    database,
    url: url.toString(),
    async openAnother() {
      const other = await openDatabase({ driver: "postgres", url: url.toString(), poolSize: 20 });
      others.push(other);
      return other;
    },
    async cleanup() {
      await Promise.all([database, ...others].map((d) => d.close().catch(() => {})));
      await withAdmin(adminUrl, (client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    },
  };
}

async function withAdmin<T>(adminUrl: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}
