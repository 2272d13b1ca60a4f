/**
 * The account page and the console JSON API. The API takes the session
 * cookie (writes then need the CSRF header and a same-origin request) or a
 * personal API key as bearer — never an MCP access or refresh token.
 */
import type { Context } from "hono";
import { Hono } from "hono";
import { z } from "zod";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { apiKeyClientId, type ApiKeyStore } from "../accounts/api-keys.js";
import { randomToken } from "../crypto.js";
import { ApiError } from "../errors.js";
import { BASE_SCOPE } from "../oauth/policy.js";
import type { Revocation } from "../oauth/revocation.js";
import type { FlashStore } from "./flash.js";
import { errorPage } from "./layout.js";
import { credentialName, userPage } from "./pages/user.js";
import { csrfToken, requireCsrf, sessionBound } from "./csrf.js";
import { consoleHref } from "./paths.js";
import type { ConsoleSession, SessionVariables } from "../identity/sessions.js";

export interface UserRoutesDeps {
  apiKeys: ApiKeyStore;
  revocation: Revocation;
  /** One-time messages across the redirect after each /user form (Post/Redirect/Get). */
  flashes: FlashStore;
  publicOrigin: string;
  /** Scopes a new key may carry (they matter at /mcp, with GATEHOUSE_API_KEYS_AT_MCP); a key gets `mcp` unless it asks. */
  scopes: readonly string[];
}

/** Deletes a key or a connection of this user; a connection goes with its access tokens and sessions. */
async function deleteCredential(deps: UserRoutesDeps, userId: string, id: string): Promise<boolean> {
  if (id.length > 100) return false;
  if (await deps.apiKeys.deleteKey(userId, id)) {
    await deps.revocation.apiKeyDeleted({ keyId: id, userId, clientId: apiKeyClientId(id) });
    return true;
  }
  return (await deps.revocation.revokeConnection(id, { userId })) !== null;
}

export function userRoutes(deps: UserRoutesDeps) {
  const app = new Hono<{ Variables: SessionVariables }>();

  const render = async (c: Context<{ Variables: SessionVariables }>, session: ConsoleSession, extra: { error?: string } = {}, status: ContentfulStatusCode = 200) =>
    userPage(
      c,
      {
        email: session.email,
        // Taken before the list is read, so a key created in this session is listed as well as shown.
        flashes: await deps.flashes.take(session),
        credentials: await deps.apiKeys.list(session.userId),
        csrf: { create: csrfToken(session, "tokens:create"), delete: csrfToken(session, "tokens:delete"), logout: csrfToken(session, "logout") },
        nonce: randomToken(16),
        ...extra,
      },
      status,
    );

  const requireSession = (c: Context<{ Variables: SessionVariables }>) => c.var.session;
  const signInFirst = (c: Context) => {
    const user = consoleHref(c, "/user");
    return c.redirect(consoleHref(c, `/login?return_to=${encodeURIComponent(user)}`), 303);
  };
  const formCsrf = (purpose: string) =>
    requireCsrf({
      publicOrigin: deps.publicOrigin,
      expected: sessionBound(purpose),
      // Signed out: the handler sends the browser to sign in first.
      when: (c) => c.var.session !== null,
      refuse: (c) => errorPage(c, "Request refused", "The form could not be verified. Reload the page and try again.", 403),
    });

  app.get("/user", async (c) => {
    const session = requireSession(c);
    if (!session) return signInFirst(c);
    return render(c, session);
  });

  app.post("/user/tokens", formCsrf("tokens:create"), async (c) => {
    const session = requireSession(c);
    if (!session) return signInFirst(c);
    const body = await c.req.parseBody().catch(() => ({}) as Record<string, unknown>);
    const name = typeof body.name === "string" ? body.name : "";
    try {
      const { key, token } = await deps.apiKeys.create(session.userId, name, [BASE_SCOPE]);
      // Post/Redirect/Get: the key waits, sealed, for the next GET /user of this session, which shows it once;
      // a reload of that page neither shows it again nor posts the form again.
      await deps.flashes.put(session, { kind: "key-created", name: key.name, token });
      return c.redirect(consoleHref(c, "/user"), 303);
    } catch (error) {
      if (error instanceof ApiError) return render(c, session, { error: error.message }, 400);
      throw error;
    }
  });

  app.post("/user/tokens/:id/delete", formCsrf("tokens:delete"), async (c) => {
    const session = requireSession(c);
    if (!session) return signInFirst(c);
    // The name is read before the delete; the confirmation is fixed words around it, carried in the
    // session's flash, never in the URL.
    const id = c.req.param("id");
    const credential = id.length <= 100 ? await deps.apiKeys.find(session.userId, id) : null;
    if (credential && (await deleteCredential(deps, session.userId, id))) {
      const name = credentialName(credential);
      await deps.flashes.put(session, credential.kind === "mcp" ? { kind: "disconnected", name } : { kind: "key-deleted", name });
    }
    return c.redirect(consoleHref(c, "/user"), 303);
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
    c.set("apiUser", { userId: session.userId, email: session.email });
    return next();
  });
  // Cookie-authenticated writes: same origin and the session's CSRF token (X-CSRF-Token).
  api.use(
    "*",
    requireCsrf({
      publicOrigin: deps.publicOrigin,
      expected: sessionBound("api"),
      from: "header",
      when: (c) => !c.req.header("authorization") && c.req.method !== "GET" && c.req.method !== "HEAD",
      refuse: () => {
        throw new ApiError(403, "csrf_failed", "Cookie-authenticated writes need the X-CSRF-Token header from GET /api/me.");
      },
    }),
  );
  api.get("/me", (c) => {
    const session = c.var.session;
    return c.json({
      id: c.var.apiUser.userId,
      email: c.var.apiUser.email,
      ...(session && !c.req.header("authorization") ? { csrf_token: csrfToken(session, "api") } : {}),
    });
  });
  api.get("/tokens", async (c) => c.json({ tokens: await deps.apiKeys.list(c.var.apiUser.userId) }));
  const createBody = z.object({ name: z.string(), scopes: z.array(z.string()).max(50).optional() });
  api.post("/tokens", async (c) => {
    const parsed = createBody.safeParse(await c.req.json().catch(() => null));
    if (!parsed.success) throw new ApiError(400, "invalid_request", "Expected a JSON body {\"name\": \"…\", \"scopes\"?: [\"…\"]}.");
    const scopes = [...new Set(parsed.data.scopes ?? [BASE_SCOPE])];
    const unknown = scopes.filter((s) => !deps.scopes.includes(s));
    if (unknown.length > 0) throw new ApiError(400, "invalid_scope", `Unknown scope: ${unknown.join(" ").slice(0, 200)}.`);
    const { key, token } = await deps.apiKeys.create(c.var.apiUser.userId, parsed.data.name, scopes);
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
