/**
 * Bearer verification for /mcp (RFC 6750, RFC 9728 §5.1, MCP authorization).
 * Accepts only this server's access tokens for this resource; refresh tokens
 * and personal API keys are never bearer tokens here. Sets `c.var.auth`.
 */
import type { Context, MiddlewareHandler } from "hono";
import type { AccessTokenInfo } from "./connections.js";
import { protectedResourceMetadataUrl } from "./metadata.js";
import { BASE_SCOPE, type OAuthPolicy } from "./policy.js";

export interface McpAuth extends AccessTokenInfo {
  token: string;
}

export type BearerVariables = { auth: McpAuth };

export interface BearerDeps {
  policy: OAuthPolicy;
  verifyAccessToken(token: string): Promise<AccessTokenInfo | null>;
}

function challenge(policy: OAuthPolicy, attributes: Record<string, string>): string {
  const all = { resource_metadata: protectedResourceMetadataUrl(policy), ...attributes };
  return `Bearer ${Object.entries(all)
    .map(([k, v]) => `${k}="${v}"`)
    .join(", ")}`;
}

function unauthorized(c: Context, policy: OAuthPolicy, error?: { code: string; description: string }): Response {
  // RFC 6750 §3.1: no error attribute when the request carried no credentials.
  const header = error
    ? challenge(policy, { error: error.code, error_description: error.description, scope: BASE_SCOPE })
    : challenge(policy, { scope: BASE_SCOPE });
  return c.json(
    { error: error?.code ?? "unauthorized", error_description: error?.description ?? "A bearer access token is required." },
    401,
    { "WWW-Authenticate": header, "Cache-Control": "no-store" },
  );
}

/** 403 naming every scope the operation needs (RFC 6750 §3.1, MCP step-up). */
export function insufficientScope(c: Context, policy: OAuthPolicy, required: readonly string[]): Response {
  const scope = required.join(" ");
  return c.json(
    { error: "insufficient_scope", error_description: `This operation needs the scope: ${scope}.`, scope },
    403,
    {
      "WWW-Authenticate": challenge(policy, {
        error: "insufficient_scope",
        scope,
        error_description: "The access token lacks a required scope",
      }),
      "Cache-Control": "no-store",
    },
  );
}

export function requireBearer(deps: BearerDeps): MiddlewareHandler<{ Variables: BearerVariables }> {
  return async function verifyBearer(c, next) {
    const header = c.req.header("authorization");
    // OAuth 2.1 §5.1: only the Authorization header; a token in the query string is ignored.
    const match = header ? /^Bearer[ ]+([A-Za-z0-9\-._~+/]+=*)$/i.exec(header.trim()) : null;
    if (!header || !/^Bearer\b/i.test(header)) return unauthorized(c, deps.policy);
    if (!match) return unauthorized(c, deps.policy, { code: "invalid_token", description: "The bearer token is malformed" });
    const token = match[1]!;
    const info = await deps.verifyAccessToken(token);
    // RFC 8707 / MCP: a token for any other audience is not ours to accept.
    if (!info || info.resource !== deps.policy.resource) {
      return unauthorized(c, deps.policy, { code: "invalid_token", description: "The access token is invalid, expired or revoked" });
    }
    c.set("auth", { ...info, token });
    await next();
  };
}
