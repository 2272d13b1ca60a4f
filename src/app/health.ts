import { Hono } from "hono";
import type { Database } from "../storage/db.js";
import { pendingMigrations } from "../storage/migrate.js";

/** `/healthz`: the process answers. `/readyz`: the database answers and every migration is applied. */
export function healthRoutes(deps: { database: Database }) {
  const app = new Hono();
  app.get("/healthz", (c) => c.json({ status: "ok" }, 200, { "Cache-Control": "no-store" }));
  app.get("/readyz", async (c) => {
    const headers = { "Cache-Control": "no-store" };
    try {
      await deps.database.ping();
      const pending = await pendingMigrations(deps.database);
      if (pending > 0) return c.json({ status: "migrations_pending", pending }, 503, { ...headers, "Retry-After": "5" });
      return c.json({ status: "ready" }, 200, headers);
    } catch {
      return c.json({ status: "database_unavailable" }, 503, { ...headers, "Retry-After": "5" });
    }
  });
  return app;
}
