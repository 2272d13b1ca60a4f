import { Hono } from "hono";
import type { UpstreamHealth } from "../gateway/upstream.js";
import type { Database } from "../storage/db.js";
import { pendingMigrations } from "../storage/migrate.js";

/**
 * `/healthz`: the process answers. `/readyz`: the database answers and every
 * migration is applied. In gateway mode `/readyz` also lists each upstream's
 * health, as detail only: one upstream down must not take every node out of
 * the load balancer (and so Gatehouse's own tools and sign-in with it).
 */
export function healthRoutes(deps: { database: Database; upstreamHealth?: () => UpstreamHealth[] }) {
  const app = new Hono();
  app.get("/healthz", (c) => c.json({ status: "ok" }, 200, { "Cache-Control": "no-store" }));
  app.get("/readyz", async (c) => {
    const headers = { "Cache-Control": "no-store" };
    const detail = deps.upstreamHealth ? { upstreams: deps.upstreamHealth() } : {};
    try {
      await deps.database.ping();
      const pending = await pendingMigrations(deps.database);
      if (pending > 0) return c.json({ status: "migrations_pending", pending, ...detail }, 503, { ...headers, "Retry-After": "5" });
      return c.json({ status: "ready", ...detail }, 200, headers);
    } catch {
      return c.json({ status: "database_unavailable", ...detail }, 503, { ...headers, "Retry-After": "5" });
    }
  });
  return app;
}
