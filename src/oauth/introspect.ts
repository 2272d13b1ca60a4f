/**
 * RFC 7662 introspection for the embedding app's own resource servers. Only
 * confidential clients may call it, and they see only their own tokens:
 * everything else is `{"active": false}` (THREATS 25).
 */
import { Hono } from "hono";
import { authenticateClient, type ClientAuthDeps } from "./client-auth.js";
import type { ConnectionStore } from "./connections.js";
import { invalidClient, NO_STORE_HEADERS, OAuthError } from "./errors.js";
import { readForm } from "./form.js";
import type { OAuthPolicy } from "./policy.js";

export function introspectRoutes(deps: ClientAuthDeps & { connections: ConnectionStore; policy: OAuthPolicy }) {
  const app = new Hono();
  app.post("/", async function introspect(c) {
    const form = await readForm(c);
    const { client, usedBasic } = await authenticateClient(c, form, deps);
    if (client.tokenEndpointAuthMethod === "none") throw invalidClient("Introspection requires an authenticated client.", usedBasic);
    const token = form.get("token");
    if (!token) throw new OAuthError("invalid_request", "The token parameter is required.");
    const info = token.length <= 256 ? await deps.connections.verifyAccessToken(token) : null;
    if (!info || info.clientId !== client.clientId) return c.json({ active: false }, 200, NO_STORE_HEADERS);
    return c.json(
      {
        active: true,
        scope: info.scopes.join(" "),
        client_id: info.clientId,
        sub: info.userId,
        aud: info.resource,
        iss: deps.policy.issuer,
        exp: Math.floor(info.expiresAt / 1000),
        token_type: "Bearer",
      },
      200,
      NO_STORE_HEADERS,
    );
  });
  return app;
}
