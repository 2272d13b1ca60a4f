/** The bus is chosen once, from the database: LISTEN/NOTIFY on a PostgreSQL pool, in-process on PGlite. */
import type { Logger } from "../logger.js";
import type { Database } from "../storage/db.js";
import { pgPool } from "../storage/pg-pool.js";
import type { KvStore } from "../storage/kv/kv.js";
import type { EventBus } from "./bus.js";
import { InProcessBus } from "./in-process.js";
import { PostgresBus } from "./postgres.js";

/** `listen: false` for a process that only tells others (the CLI): it publishes through the pool and hears nothing. */
export async function openBus(database: Database, kv: KvStore, logger: Logger, options: { listen?: boolean } = {}): Promise<EventBus> {
  const pool = pgPool(database);
  if (!pool) return new InProcessBus();
  const bus = new PostgresBus(pool.options, pool, kv, logger);
  if (options.listen ?? true) await bus.start();
  return bus;
}
