/**
 * The refresh_token grant: RFC 6749 §6 with OAuth 2.1 §4.3 rotation and the
 * RFC 9700 §4.14.2 defences, as PRODUCT §6 asks:
 * - the token must belong to this client, be unexpired and name our resource;
 *   the scope may narrow, never widen (§6);
 * - presenting the current token rotates it. The response is sealed under
 *   the presented token and kept 30 s, so concurrent refreshes with that
 *   token (two windows, two nodes) all receive the same pair, and the
 *   database never holds a usable token;
 * - presenting the previous token (its successor never used) replays that
 *   response inside the grace window, or rotates again after it: a lost
 *   response never locks a user out;
 * - presenting any older token is reuse: the whole connection is revoked.
 */
import type { Clock } from "../../clock.js";
import { open, seal, sha256Hex } from "../../crypto.js";
import type { ConnectionStore, RefreshableConnection } from "../connections.js";
import { OAuthError } from "../errors.js";
import { checkResource, narrowScopes, parseScope, scopeString, type OAuthPolicy } from "../policy.js";
import type { Revocation } from "../revocation.js";
import { issueTokens, type TokenLifetimes, type TokenResponse } from "../tokens.js";
import type { Grant } from "./grant.js";

export const REFRESH_GRACE_MS = 30_000;
const GRACE_CONTEXT = "gatehouse refresh grace v1";
/** A rotation lost to a concurrent one is retried against the winner's result; never more than this. */
const MAX_ATTEMPTS = 3;

export interface RefreshTokenGrantDeps {
  policy: OAuthPolicy;
  connections: ConnectionStore;
  revocation: Revocation;
  clock: Clock;
  lifetimes: TokenLifetimes;
}

/** What a replayed response must have been issued for. */
interface RefreshRequest {
  scope: string;
  resource: string;
}

interface GracePayload extends RefreshRequest {
  response: TokenResponse;
}

const invalidToken = () => new OAuthError("invalid_grant", "The refresh token is invalid, expired or revoked.");

export function refreshTokenGrant(deps: RefreshTokenGrantDeps): Grant {
  /** RFC 9700 §4.14.2: a token already rotated away, presented again, revokes the connection it belonged to. */
  async function detectReuse(refreshToken: string, clientId: string): Promise<never> {
    const connectionId = await deps.connections.findRetired(refreshToken);
    if (connectionId && (await deps.revocation.revokeConnection(connectionId, { clientId }, "reuse"))) {
      throw new OAuthError("invalid_grant", "The refresh token was already used; the connection has been revoked.");
    }
    throw invalidToken();
  }

  /** The response of the rotation this token caused, while its grace window lasts and if it was for the same request. */
  function replayGrace(connection: RefreshableConnection, refreshToken: string, request: RefreshRequest): TokenResponse | null {
    if (!connection.graceResponse || !connection.graceUntil || connection.graceUntil.getTime() <= deps.clock.now()) return null;
    const opened = open(refreshToken, GRACE_CONTEXT, connection.graceResponse);
    if (!opened) return null;
    const payload = JSON.parse(opened) as GracePayload;
    return payload.scope === request.scope && payload.resource === request.resource ? payload.response : null;
  }

  async function rotate(connection: RefreshableConnection, refreshToken: string, scopes: string[], request: RefreshRequest) {
    const now = deps.clock.now();
    const tokens = issueTokens(now, deps.lifetimes, scopes);
    const payload: GracePayload = { response: tokens.response, ...request };
    const rotated = await deps.connections.rotate(connection, tokens, {
      presentedHash: sha256Hex(refreshToken),
      sealedResponse: seal(refreshToken, GRACE_CONTEXT, JSON.stringify(payload)),
      until: new Date(now + REFRESH_GRACE_MS),
    });
    return rotated ? tokens.response : null;
  }

  async function refresh(refreshToken: string, clientId: string, requestedScopes: string[], resource: string): Promise<TokenResponse> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const connection = await deps.connections.findByRefreshToken(refreshToken);
      if (!connection) return detectReuse(refreshToken, clientId);
      // OAuth 2.1 §4.3.1: the token is bound to the client it was issued to. Not reuse: nothing is revoked.
      if (connection.clientId !== clientId) throw new OAuthError("invalid_grant", "The refresh token was not issued to this client.");
      if (connection.expiresAt && connection.expiresAt.getTime() <= deps.clock.now()) {
        throw new OAuthError("invalid_grant", "The refresh token has expired.");
      }
      if (resource !== connection.resource) throw new OAuthError("invalid_target", "The resource does not match the grant.");
      const scopes = narrowScopes(connection.scopes, requestedScopes);
      const request = { scope: scopeString(scopes), resource };
      if (connection.presented === "previous") {
        const replay = replayGrace(connection, refreshToken, request);
        if (replay) return replay;
        if (connection.graceUntil && connection.graceUntil.getTime() > deps.clock.now()) {
          // THREATS 18: a concurrent refresh asking for something else is refused, without revoking.
          throw new OAuthError("invalid_grant", "A concurrent refresh with different parameters is in progress.");
        }
      }
      const response = await rotate(connection, refreshToken, scopes, request);
      if (response) return response;
      // Another refresh (or a revocation) changed the connection since it was read: decide again on what it left.
    }
    throw new OAuthError("invalid_grant", "A concurrent refresh with different parameters is in progress.");
  }

  return {
    grantType: "refresh_token",
    parameters: ["refresh_token", "scope", "resource"],
    async handle({ client, params }) {
      const refreshToken = params.get("refresh_token");
      if (!refreshToken) throw new OAuthError("invalid_request", "The refresh_token parameter is required.");
      if (refreshToken.length > 256) throw invalidToken();
      return refresh(refreshToken, client.clientId, parseScope(params.get("scope")), checkResource(deps.policy, params.get("resource")));
    },
  };
}
