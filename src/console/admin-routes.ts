/**
 * `/admin`, for admin accounts only: every account and registered client,
 * disable or enable an account, remove a client. Each action is a CSRF-checked
 * form, answered with a 303 back to the page. A connection ends only through
 * oauth/revocation.ts (via UserDirectory for accounts).
 */
import type { Context } from "hono";
import { Hono } from "hono";
import { adminOverview } from "../accounts/admin-overview.js";
import type { UserDirectory } from "../accounts/directory.js";
import { findUserById } from "../accounts/users.js";
import type { SessionVariables } from "../identity/sessions.js";
import type { Revocation } from "../oauth/revocation.js";
import { removeClient } from "../oauth/static-clients.js";
import type { Db } from "../storage/db.js";
import { csrfToken, formField, requireCsrf, sessionBound } from "./csrf.js";
import { errorPage } from "./layout.js";
import { adminPage, type UpstreamStatus } from "./pages/admin.js";
import { consoleHref } from "./paths.js";

export interface AdminRoutesDeps {
  db: Db;
  users: UserDirectory;
  revocation: Revocation;
  publicOrigin: string;
  /** Gateway mode: each upstream's health, as /readyz shows it. */
  upstreamHealth?: () => UpstreamStatus[];
}

type Ctx = Context<{ Variables: SessionVariables }>;

export function adminRoutes(deps: AdminRoutesDeps) {
  const app = new Hono<{ Variables: SessionVariables }>();

  /** The signed-in admin, or the answer for everyone else: sign in first, or 403. */
  const admin = async (c: Ctx) => {
    const session = c.var.session;
    if (!session) return { refusal: c.redirect(consoleHref(c, `/login?return_to=${encodeURIComponent(consoleHref(c, "/admin"))}`), 303) };
    const user = await findUserById(deps.db, session.userId);
    if (!user || user.role !== "admin" || user.disabled) {
      return { refusal: await errorPage(c, "Not allowed", "This page is for administrators.", 403) };
    }
    return { session, user };
  };

  const formCsrf = (purpose: string) =>
    requireCsrf({
      publicOrigin: deps.publicOrigin,
      expected: sessionBound(purpose),
      when: (c) => c.var.session !== null,
      refuse: (c) => errorPage(c, "Request refused", "The form could not be verified. Reload the page and try again.", 403),
    });

  app.get("/admin", async (c) => {
    const found = await admin(c);
    if ("refusal" in found) return found.refusal;
    return adminPage(c, {
      email: found.user.email,
      overview: await adminOverview(deps.db),
      ...(deps.upstreamHealth ? { upstreams: deps.upstreamHealth() } : {}),
      csrf: { users: csrfToken(found.session, "admin:users"), clients: csrfToken(found.session, "admin:clients") },
    });
  });

  app.post("/admin/users/:id/:action{disable|enable}", formCsrf("admin:users"), async (c) => {
    const found = await admin(c);
    if ("refusal" in found) return found.refusal;
    const id = c.req.param("id");
    const target = id.length <= 100 ? await findUserById(deps.db, id) : null;
    if (!target) return errorPage(c, "No such account", "That account does not exist any more.", 404);
    // An admin who disabled themselves would be locked out of this page: that is for another admin, or the CLI.
    if (target.id === found.user.id) return errorPage(c, "Not allowed", "You cannot disable your own account here.", 400);
    if (c.req.param("action") === "disable") await deps.users.disable(target.email);
    else await deps.users.enable(target.email);
    return c.redirect(consoleHref(c, "/admin"), 303);
  });

  app.post("/admin/clients/remove", formCsrf("admin:clients"), async (c) => {
    const found = await admin(c);
    if ("refusal" in found) return found.refusal;
    const clientId = (await formField(c, "client_id")) ?? "";
    const { connections } = await removeClient(deps.db, clientId);
    await deps.revocation.clientRemoved(connections);
    return c.redirect(consoleHref(c, "/admin"), 303);
  });

  return app;
}
