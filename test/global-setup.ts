/**
 * Decides once per run whether the PostgreSQL half of the suite runs:
 * TEST_DATABASE_URL when set, else a server answering on 127.0.0.1:5432.
 * Each suite then makes its own fresh database on that server.
 */
import { rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { openDatabase } from "../src/storage/db.js";
import { migrate } from "../src/storage/migrate.js";
import { ensureNode22 } from "./helpers/node22.js";
import type { TestProject } from "vitest/node";

declare module "vitest" {
  export interface ProvidedContext {
    pgAdminUrl: string | null;
    /** A migrated PGlite data directory (tarball): loading it is much faster than initdb + migrate. */
    pgliteTemplate: string;
    /** Node 22 for the official conformance suite (see helpers/node22.ts). */
    node22: string;
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

async function pgliteTemplate(): Promise<string> {
  const database = await openDatabase({ driver: "pglite-memory" });
  await migrate(database);
  const dump = await database.pglite!.dumpDataDir("none");
  await database.close();
  const file = path.join(os.tmpdir(), `gatehouse-pglite-template-${process.pid}.tar`);
  await writeFile(file, Buffer.from(await dump.arrayBuffer()));
  return file;
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const template = await pgliteTemplate();
  project.provide("pgliteTemplate", template);
  project.provide("node22", ensureNode22());
  await findPostgres(project);
  return () => rm(template, { force: true });
}

async function findPostgres(project: TestProject): Promise<void> {
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
