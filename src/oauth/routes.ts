/** Mounts the authorization server: discovery, registration, authorize, token, revoke, introspect. */
import { Hono } from "hono";
import { cors } from "hono/cors";
import type { Clock } from "../clock.js";
import type { RateLimit } from "../storage/rate-limit.js";
import { authorizeRoutes, type AuthorizeUi } from "./authorize.js";
import type { ClientStore } from "./clients.js";
import type { AuthorizationCodes } from "./codes.js";
import type { ConnectionStore } from "./connections.js";
import { authorizationCodeGrant } from "./grants/authorization-code.js";
import { refreshTokenGrant } from "./grants/refresh-token.js";
import { introspectRoutes } from "./introspect.js";
import { metadataRoutes } from "./metadata.js";
import type { PendingAuthorizations } from "./pending.js";
import type { OAuthPolicy } from "./policy.js";
import { registerRoutes, type RegisterDeps } from "./register.js";
import { revokeRoutes } from "./revoke.js";
import type { Revocation } from "./revocation.js";
import { tokenRoutes } from "./token.js";
import type { TokenLifetimes } from "./tokens.js";

export interface OAuthDeps {
  policy: OAuthPolicy;
  clients: ClientStore;
  codes: AuthorizationCodes;
  pending: PendingAuthorizations;
  connections: ConnectionStore;
  revocation: Revocation;
  clock: Clock;
  lifetimes: TokenLifetimes;
  /** Honour X-Forwarded-For for per-address limits. */
  trustProxy: boolean;
  /** Which redirect URIs an authorization error is sent back to without a page (config `errorRedirects`). */
  errorRedirects: "always" | "trusted";
  secretFailures: RateLimit;
  register: RegisterDeps;
  /** The pages people see at /oauth/authorize (the console's). */
  ui: AuthorizeUi;
}

export function oauthRoutes(deps: OAuthDeps) {
  const app = new Hono();
  const grants = [authorizationCodeGrant(deps), refreshTokenGrant(deps)];
  // Browser-based clients (MCP Inspector) register, redeem and revoke cross-origin. These endpoints read no
  // cookies, so any origin may call them; authorize (OAuth 2.1 §3.1, AZ-20) and introspect stay same-origin.
  const browserClients = cors({
    origin: "*",
    allowMethods: ["POST"],
    allowHeaders: ["Content-Type", "Authorization", "MCP-Protocol-Version"],
    exposeHeaders: ["WWW-Authenticate", "Retry-After"],
    maxAge: 600,
  });
  for (const path of ["/oauth/token", "/oauth/register", "/oauth/revoke"]) app.use(path, browserClients);
  app.route("/", metadataRoutes(deps.policy));
  app.route("/oauth/register", registerRoutes(deps.register));
  app.route("/oauth/authorize", authorizeRoutes(deps));
  app.route("/oauth/token", tokenRoutes({ ...deps, grants }));
  app.route("/oauth/revoke", revokeRoutes(deps));
  app.route("/oauth/introspect", introspectRoutes(deps));
  return app;
}
