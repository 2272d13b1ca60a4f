/**
 * Bearer verification for /mcp (RFC 6750, RFC 9728 §5.1, MCP authorization).
 * Accepts only this server's access tokens for this resource, and personal
 * API keys only when the operator opted in (`apiKeys`); refresh tokens are
 * never bearer tokens here. Sets `c.var.auth`.
 * Every refusal is an OAuthError carrying the challenge that tells the
 * client where to find the authorization server.
 */
import type { MiddlewareHandler } from "hono";
import type { AccessTokenInfo } from "./connections.js";
import { OAuthError } from "./errors.js";
import type { LastUsed } from "./last-used.js";
import { protectedResourceMetadataUrl } from "./metadata.js";
import { BASE_SCOPE, type OAuthPolicy } from "./policy.js";

export interface McpAuth extends AccessTokenInfo {
  token: string;
}

export type BearerVariables = { auth: McpAuth };

export interface BearerDeps {
  policy: OAuthPolicy;
  /** The token cache in front of the database (token-cache.ts). */
  tokens: { verifyAccessToken(token: string): Promise<AccessTokenInfo | null> };
  lastUsed: LastUsed;
  /** Personal API keys at /mcp (GATEHOUSE_API_KEYS_AT_MCP); absent, they are refused like any unknown token. */
  apiKeys?: { verify(token: string): Promise<AccessTokenInfo | null> };
}

function challenge(policy: OAuthPolicy, attributes: Record<string, string>): string {
  const all = { resource_metadata: protectedResourceMetadataUrl(policy), ...attributes };
  return `Bearer ${Object.entries(all)
    .map(([k, v]) => `${k}="${v}"`)
    .join(", ")}`;
}

function unauthorized(policy: OAuthPolicy, error?: { code: "invalid_token"; description: string }): OAuthError {
  // RFC 6750 §3.1: no error attribute when the request carried no credentials.
  const header = error
    ? challenge(policy, { error: error.code, error_description: error.description, scope: BASE_SCOPE })
    : challenge(policy, { scope: BASE_SCOPE });
  return new OAuthError(error?.code ?? "unauthorized", error?.description ?? "A bearer access token is required.", {
    headers: { "WWW-Authenticate": header },
  });
}

export function requireBearer(deps: BearerDeps): MiddlewareHandler<{ Variables: BearerVariables }> {
  return async function verifyBearer(c, next) {
    const header = c.req.header("authorization");
    // OAuth 2.1 §5.1: only the Authorization header; a token in the query string is ignored.
    const match = header ? /^Bearer[ ]+([A-Za-z0-9\-._~+/]+=*)$/i.exec(header.trim()) : null;
    if (!header || !/^Bearer\b/i.test(header)) throw unauthorized(deps.policy);
    if (!match) throw unauthorized(deps.policy, { code: "invalid_token", description: "The bearer token is malformed" });
    const token = match[1]!;
    const info = (await deps.tokens.verifyAccessToken(token)) ?? (deps.apiKeys ? await deps.apiKeys.verify(token) : null);
    // RFC 8707 / MCP: a token for any other audience is not ours to accept.
    if (!info || info.resource !== deps.policy.resource) {
      throw unauthorized(deps.policy, { code: "invalid_token", description: "The access token is invalid, expired or revoked" });
    }
    deps.lastUsed.record(info.connectionId);
    c.set("auth", { ...info, token });
    await next();
  };
}
