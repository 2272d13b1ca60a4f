/**
 * Decides once per run whether the PostgreSQL half of the suite runs:
 * TEST_DATABASE_URL when set, else a server answering on 127.0.0.1:5432.
 * Each suite then makes its own fresh database on that server.
 */
import pg from "pg";
import type { TestProject } from "vitest/node";

declare module "vitest" {
  export interface ProvidedContext {
    pgAdminUrl: string | null;
  }
}

async function reachable(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.query("SELECT 1");
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

export default async function setup(project: TestProject): Promise<void> {
  const explicit = process.env.TEST_DATABASE_URL;
  if (explicit) {
    if (!(await reachable(explicit))) throw new Error(`TEST_DATABASE_URL is set but PostgreSQL does not answer there`);
    project.provide("pgAdminUrl", explicit);
    return;
  }
  const local = "postgres://postgres@127.0.0.1:5432/postgres";
  const found = await reachable(local);
  project.provide("pgAdminUrl", found ? local : null);
  if (!found) console.warn("PostgreSQL not reachable on 127.0.0.1:5432: database tests run on PGlite only");
}
