/** OAuth 2.1 §4.3: refresh with rotation, grace and reuse detection (see connections.ts). */
import type { ConnectionStore } from "../connections.js";
import { OAuthError } from "../errors.js";
import { checkResource, parseScope, type OAuthPolicy } from "../policy.js";
import type { Grant } from "./grant.js";

export function refreshTokenGrant(deps: { policy: OAuthPolicy; connections: ConnectionStore }): Grant {
  return {
    grantType: "refresh_token",
    parameters: ["refresh_token", "scope", "resource"],
    async handle({ client, params }) {
      const refreshToken = params.get("refresh_token");
      if (!refreshToken) throw new OAuthError("invalid_request", "The refresh_token parameter is required.");
      if (refreshToken.length > 256) throw new OAuthError("invalid_grant", "The refresh token is invalid, expired or revoked.");
      return deps.connections.refresh({
        refreshToken,
        clientId: client.clientId,
        scopes: parseScope(params.get("scope")),
        resource: checkResource(deps.policy, params.get("resource")),
      });
    },
  };
}
