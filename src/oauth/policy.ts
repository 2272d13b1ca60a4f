/**
 * What this authorization server issues: the issuer, the one protected
 * resource (`<public>/mcp`), and the scopes (`mcp` plus every scope a tool
 * declares). Pure functions over strings; handlers only call them.
 */
import { OAuthError } from "./errors.js";

export const BASE_SCOPE = "mcp";
export const OFFLINE_ACCESS = "offline_access";

export interface OAuthPolicy {
  issuer: string;
  /** RFC 8707 resource indicator of /mcp: the audience of every access token. */
  resource: string;
  /** Scopes a client may ask for (without offline_access). */
  scopes: readonly string[];
  /** RFC 9728 `resource_name`: what people are told they are connecting to. */
  resourceName: string;
}

export function createPolicy(publicUrl: string, toolScopes: readonly string[] = [], resourceName = "Gatehouse MCP"): OAuthPolicy {
  return {
    issuer: publicUrl,
    resource: `${publicUrl}/mcp`,
    scopes: [...new Set([BASE_SCOPE, ...toolScopes])],
    resourceName,
  };
}

// RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

/** Parses a space-delimited scope string; an absent or empty one is []. */
export function parseScope(raw: string | undefined): string[] {
  if (raw === undefined || raw.trim() === "") return [];
  const tokens = raw.split(" ").filter((t) => t !== "");
  if (raw.length > 2000 || tokens.some((t) => !SCOPE_TOKEN.test(t))) {
    throw new OAuthError("invalid_scope", "The scope parameter is malformed.");
  }
  return [...new Set(tokens)];
}

/** The scopes to grant for an authorization request: `mcp` when none are asked for; unknown ones are refused. */
export function grantableScopes(policy: OAuthPolicy, requested: string[]): string[] {
  const unknown = requested.filter((s) => s !== OFFLINE_ACCESS && !policy.scopes.includes(s));
  if (unknown.length > 0) throw new OAuthError("invalid_scope", `Unknown scope: ${unknown.join(" ")}.`);
  const granted = requested.filter((s) => s !== OFFLINE_ACCESS);
  return granted.length > 0 ? granted : [BASE_SCOPE];
}

/** RFC 6749 §6: a refresh may narrow the scope, never widen it. */
export function narrowScopes(granted: readonly string[], requested: string[]): string[] {
  const wanted = requested.filter((s) => s !== OFFLINE_ACCESS);
  if (wanted.length === 0) return [...granted];
  const extra = wanted.filter((s) => !granted.includes(s));
  if (extra.length > 0) throw new OAuthError("invalid_scope", "The requested scope exceeds what was granted.");
  return wanted;
}

/**
 * RFC 8707 §2: `resource` must be an absolute URI without a fragment, and
 * the only resource here is /mcp. Absent means /mcp (MCP clients send it;
 * older ones may not).
 */
export function checkResource(policy: OAuthPolicy, raw: string | undefined): string {
  if (raw === undefined) return policy.resource;
  if (raw !== policy.resource) {
    throw new OAuthError("invalid_target", "The resource parameter does not name this server's MCP endpoint.");
  }
  return raw;
}

export function scopeString(scopes: readonly string[]): string {
  return scopes.join(" ");
}
