/** Which database the configuration names, opened and migrated: the one way every entry point opens it. */
import type { Config } from "../config.js";
import { openDatabase, type Database, type OpenDatabaseOptions } from "./db.js";
import { migrate } from "./migrate.js";

export function databaseOptions(config: Pick<Config, "databaseUrl" | "dataDir">): OpenDatabaseOptions {
  return config.databaseUrl ? { driver: "postgres", url: config.databaseUrl } : { driver: "pglite", dataDir: config.dataDir };
}

/** Opens `database` (or the configured one) and applies pending migrations; a database it opened is closed on failure. */
export async function openAndMigrate(config: Pick<Config, "databaseUrl" | "dataDir">, database?: Database): Promise<Database> {
  const opened = database ?? (await openDatabase(databaseOptions(config)));
  try {
    await migrate(opened);
  } catch (error) {
    if (!database) await opened.close();
    throw error;
  }
  return opened;
}
