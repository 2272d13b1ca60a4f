/**
 * Discovery documents. Every URL comes from the configured public URL, never
 * from request headers (THREATS 43), so a forged Host cannot change them.
 */
import { Hono } from "hono";
import { cors } from "hono/cors";
import { OFFLINE_ACCESS, type OAuthPolicy } from "./policy.js";

/** RFC 8414 §2. Only endpoints that exist; no empty arrays (§3.2). */
export function authorizationServerMetadata(policy: OAuthPolicy) {
  const base = policy.issuer;
  return {
    issuer: base,
    authorization_endpoint: `${base}/oauth/authorize`,
    token_endpoint: `${base}/oauth/token`,
    registration_endpoint: `${base}/oauth/register`,
    revocation_endpoint: `${base}/oauth/revoke`,
    introspection_endpoint: `${base}/oauth/introspect`,
    scopes_supported: [...policy.scopes, OFFLINE_ACCESS],
    response_types_supported: ["code"],
    response_modes_supported: ["query"],
    grant_types_supported: ["authorization_code", "refresh_token"],
    token_endpoint_auth_methods_supported: ["none", "client_secret_basic", "client_secret_post"],
    revocation_endpoint_auth_methods_supported: ["none", "client_secret_basic", "client_secret_post"],
    introspection_endpoint_auth_methods_supported: ["client_secret_basic", "client_secret_post"],
    code_challenge_methods_supported: ["S256"],
    client_id_metadata_document_supported: true,
    authorization_response_iss_parameter_supported: true,
  };
}

/** RFC 9728 §2. Never lists offline_access (MCP 2026-07-28). */
export function protectedResourceMetadata(policy: OAuthPolicy) {
  return {
    resource: policy.resource,
    authorization_servers: [policy.issuer],
    scopes_supported: [...policy.scopes],
    bearer_methods_supported: ["header"],
    resource_name: policy.resourceName,
  };
}

export function protectedResourceMetadataUrl(policy: OAuthPolicy): string {
  return `${policy.issuer}/.well-known/oauth-protected-resource/mcp`;
}

export function metadataRoutes(policy: OAuthPolicy) {
  const app = new Hono();
  // RFC 9700 §2.6 / RFC 8414: metadata may be read cross-origin by browser-based clients.
  app.use("/.well-known/*", cors({ origin: "*", allowMethods: ["GET"] }));
  const headers = { "Cache-Control": "public, max-age=300" };
  app.get("/.well-known/oauth-authorization-server", (c) => c.json(authorizationServerMetadata(policy), 200, headers));
  // PRODUCT §5: both the root and the /mcp-suffixed documents describe the /mcp resource (SPEC PRM-5 option b).
  app.get("/.well-known/oauth-protected-resource", (c) => c.json(protectedResourceMetadata(policy), 200, headers));
  app.get("/.well-known/oauth-protected-resource/mcp", (c) => c.json(protectedResourceMetadata(policy), 200, headers));
  return app;
}
