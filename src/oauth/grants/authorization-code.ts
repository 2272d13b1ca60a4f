/** RFC 6749 §4.1.3 / OAuth 2.1 §4.1.3: redeem a code, bound to client, redirect URI, PKCE and resource. */
import type { Clock } from "../../clock.js";
import type { AuthorizationCodes } from "../codes.js";
import type { ConnectionStore } from "../connections.js";
import { OAuthError } from "../errors.js";
import { verifyPkce } from "../pkce.js";
import type { OAuthPolicy } from "../policy.js";
import type { Revocation } from "../revocation.js";
import { issueTokens, type TokenLifetimes } from "../tokens.js";
import type { Grant } from "./grant.js";

export interface AuthorizationCodeGrantDeps {
  policy: OAuthPolicy;
  codes: AuthorizationCodes;
  connections: ConnectionStore;
  revocation: Revocation;
  clock: Clock;
  lifetimes: TokenLifetimes;
}

export function authorizationCodeGrant(deps: AuthorizationCodeGrantDeps): Grant {
  return {
    grantType: "authorization_code",
    parameters: ["code", "redirect_uri", "code_verifier", "resource"],
    async handle({ client, params }) {
      const code = params.get("code");
      const verifier = params.get("code_verifier");
      if (!code) throw new OAuthError("invalid_request", "The code parameter is required.");
      // OAuth 2.1 §4.1.3: PKCE is mandatory; every code here was issued with an S256 challenge.
      if (!verifier) throw new OAuthError("invalid_request", "The code_verifier parameter is required.");

      const record = await deps.codes.take(code);
      if (!record) {
        await revokeOnReplay(deps, code, client.clientId, verifier);
        throw new OAuthError("invalid_grant", "The authorization code is invalid, expired or already used.");
      }
      // From here the code is consumed whatever happens (THREATS 11).
      if (record.clientId !== client.clientId) throw new OAuthError("invalid_grant", "The code was issued to another client.");
      const redirectUri = params.get("redirect_uri");
      if (redirectUri !== undefined && redirectUri !== record.redirectUri) {
        throw new OAuthError("invalid_grant", "redirect_uri does not match the authorization request.");
      }
      if (!verifyPkce(verifier, record.codeChallenge)) throw new OAuthError("invalid_grant", "PKCE verification failed.");
      const resource = params.get("resource");
      if (resource !== undefined && resource !== record.resource) {
        throw new OAuthError("invalid_target", "The resource does not match the authorization request.");
      }
      const tokens = issueTokens(deps.clock.now(), deps.lifetimes, record.scopes);
      const owner = { userId: record.userId, clientId: record.clientId };
      const replaced = await deps.connections.connect(
        { id: record.connectionId, ...owner, name: record.clientName, resource: record.resource },
        tokens,
      );
      // The user or the client was removed after consent (RFC 6749 §5.2: the grant is no longer valid).
      if (!replaced) throw new OAuthError("invalid_grant", "The authorization code is invalid, expired or already used.");
      await deps.revocation.replaced(replaced, owner);
      // A replay that raced this redemption marked the grant before the connection existed: honour it now.
      if (await deps.codes.isRevoked(record.connectionId)) await deps.revocation.revokeConnection(record.connectionId);
      return tokens.response;
    },
  };
}

/**
 * RFC 6749 §4.1.2 / OAuth 2.1 §4.1.3: a second redemption revokes what the
 * first issued — but only when the replay itself is valid (same client,
 * correct verifier), so a forged or garbled request cannot revoke anyone
 * (THREATS 13, SPEC TK-8).
 */
async function revokeOnReplay(deps: AuthorizationCodeGrantDeps, code: string, clientId: string, verifier: string) {
  const grant = await deps.codes.grantOf(code);
  if (!grant || grant.clientId !== clientId || !verifyPkce(verifier, grant.codeChallenge)) return;
  await deps.codes.markRevoked(grant.connectionId);
  await deps.revocation.revokeConnection(grant.connectionId);
}
