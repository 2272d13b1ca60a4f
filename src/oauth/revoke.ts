/**
 * RFC 7009 revocation. A client revokes only its own tokens; anything else —
 * unknown, foreign, already revoked — is answered 200 and changes nothing
 * (§2.2, THREATS 24). Revoking a refresh token removes the whole connection.
 */
import { Hono } from "hono";
import { authenticateClient, type ClientAuthDeps } from "./client-auth.js";
import type { ConnectionStore } from "./connections.js";
import { NO_STORE_HEADERS, OAuthError } from "./errors.js";
import { readForm } from "./form.js";
import type { Revocation } from "./revocation.js";

export function revokeRoutes(deps: ClientAuthDeps & { connections: ConnectionStore; revocation: Revocation }) {
  const app = new Hono();
  app.post("/", async function revoke(c) {
    const form = await readForm(c);
    const { client } = await authenticateClient(c, form, deps);
    const token = form.get("token");
    if (!token) throw new OAuthError("invalid_request", "The token parameter is required.");
    // §2.1: the hint is only a hint; an unknown one is ignored and both kinds are searched.
    const found = token.length <= 256 ? await deps.connections.findByToken(token, client.clientId) : null;
    if (found?.kind === "refresh_token") await deps.revocation.revokeConnection(found.connectionId, { clientId: client.clientId });
    if (found?.kind === "access_token") await deps.revocation.revokeAccessToken(token, client.clientId);
    return c.body(null, 200, NO_STORE_HEADERS);
  });
  return app;
}
