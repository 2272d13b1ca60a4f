/**
 * createApp(deps): the whole HTTP surface, built only from what it is given.
 * Nothing below this reads the environment or owns a lifetime.
 */
import { Hono } from "hono";
import type { Clock } from "../clock.js";
import type { Config } from "../config.js";
import type { Logger } from "../logger.js";
import type { Database } from "../storage/db.js";
import type { KvStore } from "../storage/kv/kv.js";
import { errorHandler, notFound } from "./errors.js";
import { healthRoutes } from "./health.js";
import { requestLog } from "./request-log.js";

export interface AppDeps {
  config: Config;
  database: Database;
  kv: KvStore;
  clock: Clock;
  logger: Logger;
}

export function createApp(deps: AppDeps): Hono {
  const app = new Hono();
  app.use(requestLog(deps.logger));
  app.route("/", healthRoutes(deps));
  app.notFound(notFound);
  app.onError(errorHandler(deps.logger));
  return app;
}
