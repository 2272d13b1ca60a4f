/**
 * The token endpoint: parse the form, authenticate the client, keep only the
 * parameters the grant declares, dispatch. Grants are a registry, not a switch.
 */
import { Hono } from "hono";
import { authenticateClient, type ClientAuthDeps } from "./client-auth.js";
import { NO_STORE_HEADERS, OAuthError } from "./errors.js";
import { readForm } from "./form.js";
import type { Grant } from "./grants/grant.js";

export interface TokenDeps extends ClientAuthDeps {
  grants: readonly Grant[];
}

export function tokenRoutes(deps: TokenDeps) {
  const app = new Hono();
  const grants = new Map(deps.grants.map((grant) => [grant.grantType, grant]));
  app.post("/", async function token(c) {
    const form = await readForm(c);
    const grantType = form.get("grant_type");
    if (!grantType) throw new OAuthError("invalid_request", "The grant_type parameter is required.");
    const grant = grants.get(grantType);
    if (!grant) throw new OAuthError("unsupported_grant_type", "This grant type is not supported.");
    const { client } = await authenticateClient(c, form, deps);
    if (!client.grantTypes.includes(grantType)) {
      throw new OAuthError("unauthorized_client", "This client is not registered for this grant type.");
    }
    const params = new Map([...form].filter(([name]) => grant.parameters.includes(name)));
    const response = await grant.handle({ client, params });
    await deps.clients.touch(client.clientId);
    return c.json(response, 200, NO_STORE_HEADERS);
  });
  return app;
}
