/**
 * The real `pg.Pool` of a PostgreSQL `Database` (db.ts made it), for the bus
 * and the migrator. Apart from db.ts so that no public type imports `pg`:
 * an embedder's TypeScript then needs no `@types/pg`.
 */
import type pg from "pg";
import type { Database } from "./db.js";

export function pgPool(database: Database): pg.Pool | undefined {
  return database.pool as pg.Pool | undefined;
}
