/**
 * The account page and the console JSON API. The API takes the session
 * cookie (writes then need the CSRF header and a same-origin request) or a
 * personal API key as bearer — never an MCP access or refresh token.
 */
import type { Context } from "hono";
import { Hono } from "hono";
import { z } from "zod";
import type { ApiKeyStore } from "../accounts/api-keys.js";
import { randomToken } from "../crypto.js";
import { ApiError } from "../errors.js";
import type { ConnectionStore } from "../oauth/connections.js";
import { errorPage } from "./layout.js";
import { userPage } from "./pages/user.js";
import { checkCsrf, csrfToken, isSameOriginWrite, type ConsoleSession, type SessionVariables } from "./session.js";

export interface UserRoutesDeps {
  apiKeys: ApiKeyStore;
  connections: ConnectionStore;
  publicOrigin: string;
}

/** Deletes a key or a connection of this user; a connection goes with its access tokens and sessions. */
async function deleteCredential(deps: UserRoutesDeps, userId: string, id: string): Promise<boolean> {
  if (id.length > 100) return false;
  if (await deps.apiKeys.deleteKey(userId, id)) return true;
  return (await deps.connections.revoke(id, { userId })) !== null;
}

export function userRoutes(deps: UserRoutesDeps) {
  const app = new Hono<{ Variables: SessionVariables }>();

  const render = async (c: Context<{ Variables: SessionVariables }>, session: ConsoleSession, extra: { newKey?: { name: string; token: string }; notice?: string } = {}) =>
    userPage(c, {
      email: session.email,
      credentials: await deps.apiKeys.list(session.userId),
      csrf: { create: csrfToken(session, "tokens:create"), delete: csrfToken(session, "tokens:delete"), logout: csrfToken(session, "logout") },
      nonce: randomToken(16),
      ...extra,
    });

  const requireSession = (c: Context<{ Variables: SessionVariables }>) => c.var.session;

  app.get("/user", async (c) => {
    const session = requireSession(c);
    if (!session) return c.redirect("/login?return_to=%2Fuser", 303);
    return render(c, session);
  });

  app.post("/user/tokens", async (c) => {
    const session = requireSession(c);
    if (!session) return c.redirect("/login?return_to=%2Fuser", 303);
    const body = await c.req.parseBody().catch(() => ({}) as Record<string, unknown>);
    if (!isSameOriginWrite(c, deps.publicOrigin) || !checkCsrf(session, "tokens:create", body.csrf_token as string | undefined)) {
      return errorPage(c, "Request refused", "The form could not be verified. Reload the page and try again.", 403);
    }
    const name = typeof body.name === "string" ? body.name : "";
    try {
      const { key, token } = await deps.apiKeys.create(session.userId, name);
      return render(c, session, { newKey: { name: key.name, token } });
    } catch (error) {
      if (error instanceof ApiError) return render(c, session, { notice: error.message });
      throw error;
    }
  });

  app.post("/user/tokens/:id/delete", async (c) => {
    const session = requireSession(c);
    if (!session) return c.redirect("/login?return_to=%2Fuser", 303);
    const body = await c.req.parseBody().catch(() => ({}) as Record<string, unknown>);
    if (!isSameOriginWrite(c, deps.publicOrigin) || !checkCsrf(session, "tokens:delete", body.csrf_token as string | undefined)) {
      return errorPage(c, "Request refused", "The form could not be verified. Reload the page and try again.", 403);
    }
    await deleteCredential(deps, session.userId, c.req.param("id"));
    return c.redirect("/user", 303);
  });

  // Console JSON API.
  const api = new Hono<{ Variables: SessionVariables & { apiUser: { userId: string; email: string } } }>();
  api.use("*", async (c, next) => {
    c.header("Cache-Control", "no-store");
    const header = c.req.header("authorization");
    if (header) {
      const match = /^Bearer\s+(\S+)$/i.exec(header);
      const user = match ? await deps.apiKeys.verify(match[1]!) : null;
      if (!user) throw new ApiError(401, "invalid_token", "Use a personal API key or the console session.", { "WWW-Authenticate": 'Bearer realm="gatehouse-api"' });
      c.set("apiUser", user);
      return next();
    }
    const session = c.var.session;
    if (!session) throw new ApiError(401, "unauthenticated", "Sign in or use a personal API key.", { "WWW-Authenticate": 'Bearer realm="gatehouse-api"' });
    if (c.req.method !== "GET" && c.req.method !== "HEAD") {
      // Cookie-authenticated writes: same origin and the session's CSRF token (X-CSRF-Token).
      if (!isSameOriginWrite(c, deps.publicOrigin) || !checkCsrf(session, "api", c.req.header("x-csrf-token"))) {
        throw new ApiError(403, "csrf_failed", "Cookie-authenticated writes need the X-CSRF-Token header from GET /api/me.");
      }
    }
    c.set("apiUser", { userId: session.userId, email: session.email });
    return next();
  });
  api.get("/me", (c) => {
    const session = c.var.session;
    return c.json({
      id: c.var.apiUser.userId,
      email: c.var.apiUser.email,
      ...(session && !c.req.header("authorization") ? { csrf_token: csrfToken(session, "api") } : {}),
    });
  });
  api.get("/tokens", async (c) => c.json({ tokens: await deps.apiKeys.list(c.var.apiUser.userId) }));
  const createBody = z.object({ name: z.string() });
  api.post("/tokens", async (c) => {
    const parsed = createBody.safeParse(await c.req.json().catch(() => null));
    if (!parsed.success) throw new ApiError(400, "invalid_request", "Expected a JSON body {\"name\": \"…\"}.");
    const { key, token } = await deps.apiKeys.create(c.var.apiUser.userId, parsed.data.name);
    return c.json({ ...key, token }, 201);
  });
  api.delete("/tokens/:id", async (c) => {
    if (!(await deleteCredential(deps, c.var.apiUser.userId, c.req.param("id")))) {
      throw new ApiError(404, "not_found", "No such key or connection.");
    }
    return c.body(null, 204);
  });
  app.route("/api", api);
  return app;
}
