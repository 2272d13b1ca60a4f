/**
 * One Drizzle database over two drivers: PGlite (embedded, the default) and
 * PostgreSQL through `pg` when a URL is given. The rest of the code sees only
 * `Database` and writes the same SQL for both.
 */
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { sql, type SQL } from "drizzle-orm";
import { drizzle as drizzleNodePg } from "drizzle-orm/node-postgres";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import { drizzle as drizzlePglite } from "drizzle-orm/pglite";
import pg from "pg";
import { acquireDataDirLock, type DataDirLock } from "./data-dir-lock.js";
import * as schema from "./schema.js";

export type Schema = typeof schema;
export type Db = PgDatabase<PgQueryResultHKT, Schema>;

export interface Database {
  readonly db: Db;
  readonly driver: "pglite" | "postgres";
  /**
   * Present on PostgreSQL: LISTEN/NOTIFY and advisory locks need real
   * connections. Typed by the little an embedder may use, so the public
   * types need no `@types/pg`; inside Gatehouse `pgPool()` (pg-pool.ts) gives the pg.Pool.
   */
  readonly pool?: PostgresPool;
  /** Present on PGlite. */
  readonly pglite?: PGlite;
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** The `pg` pool behind a PostgreSQL `Database`, structurally. */
export interface PostgresPool {
  query(text: string, values?: unknown[]): Promise<unknown>;
  readonly totalCount: number;
  readonly idleCount: number;
  end(): Promise<void>;
}

export class DatabaseUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "DatabaseUnavailableError";
  }
}

export type OpenDatabaseOptions =
  | { driver: "postgres"; url: string; poolSize?: number }
  | { driver: "pglite"; dataDir: string }
  /** In memory; optionally starting from a `dumpDataDir()` snapshot (fast test databases). */
  | { driver: "pglite-memory"; loadDataDir?: Blob };

export async function queryRows<T>(db: Db, query: SQL): Promise<T[]> {
  const result = (await db.execute(query)) as unknown as { rows: T[] };
  return result.rows;
}

export async function openDatabase(options: OpenDatabaseOptions): Promise<Database> {
  if (options.driver === "postgres") return openPostgres(options.url, options.poolSize ?? 10);
  if (options.driver === "pglite-memory") {
    const client = new PGlite(options.loadDataDir ? { loadDataDir: options.loadDataDir } : {});
    await client.waitReady;
    return wrapPglite(client, null);
  }
  await mkdir(options.dataDir, { recursive: true, mode: 0o700 });
  const lock = await acquireDataDirLock(options.dataDir);
  try {
    const client = new PGlite(path.join(options.dataDir, "pglite"));
    await client.waitReady;
    return wrapPglite(client, lock);
  } catch (error) {
    await lock.release();
    throw new DatabaseUnavailableError(`cannot open the embedded database in ${options.dataDir}`, { cause: error });
  }
}

function wrapPglite(client: PGlite, lock: DataDirLock | null): Database {
  const db = drizzlePglite({ client, schema }) as unknown as Db;
  return {
    db,
    driver: "pglite",
    pglite: client,
    async ping() {
      await client.query("SELECT 1");
    },
    async close() {
      if (!client.closed) await client.close();
      await lock?.release();
    },
  };
}

/**
 * pg-pool watches for a dropped connection only on idle clients (and `pool.query`'s own). A checked-out
 * client, as a Drizzle transaction holds one, would emit an unhandled 'error' and crash the process; and
 * Drizzle never releases a client whose BEGIN failed, so each such failure would cost a pool slot for good.
 * So a checked-out client that loses its connection goes back to the pool (which discards it) at once,
 * and releasing it again afterwards is harmless.
 */
class Pool extends pg.Pool {
  override connect(): Promise<pg.PoolClient>;
  override connect(callback: Parameters<pg.Pool["connect"]>[0]): void;
  override connect(callback?: Parameters<pg.Pool["connect"]>[0]): Promise<pg.PoolClient> | void {
    if (callback) return super.connect(callback);
    return super.connect().then(releaseOnConnectionLoss);
  }
}

function releaseOnConnectionLoss(client: pg.PoolClient): pg.PoolClient {
  const release = client.release;
  let released = false;
  const lost = (error: Error) => client.release(error);
  client.on("error", lost);
  client.release = (error) => {
    if (released) return;
    released = true;
    client.removeListener("error", lost);
    release(error);
  };
  return client;
}

async function openPostgres(url: string, max: number): Promise<Database> {
  const pool = new Pool({ connectionString: url, max, connectionTimeoutMillis: 5000, idleTimeoutMillis: 30_000 });
  // A dropped idle connection must not crash the process; the next query reports it and readiness turns 503.
  pool.on("error", () => {});
  try {
    const client = await pool.connect();
    client.release();
  } catch (error) {
    await pool.end().catch(() => {});
    throw new DatabaseUnavailableError(`cannot connect to PostgreSQL at ${redactUrl(url)}: ${describe(error)}`, {
      cause: error,
    });
  }
  const db = drizzleNodePg({ client: pool, schema }) as unknown as Db;
  let closed = false;
  return {
    db,
    driver: "postgres",
    pool,
    async ping() {
      await db.execute(sql`SELECT 1`);
    },
    async close() {
      if (closed) return;
      closed = true;
      await pool.end();
    },
  };
}

export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    return parsed.toString();
  } catch {
    return "(unparsable URL)";
  }
}

function describe(error: unknown): string {
  if (error instanceof Error && error.message) return error.message;
  if (error && typeof error === "object" && "code" in error) return String((error as { code: unknown }).code);
  return "unknown error";
}
