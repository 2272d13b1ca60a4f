/**
 * createApp: the whole HTTP surface, mounted from services built elsewhere
 * (services.ts). Only routing and cross-cutting HTTP concerns live here —
 * request logging, console sessions and body caps, the one error mapping.
 * Nothing here reads the environment, owns a lifetime, or carries a rule.
 */
import { Hono, type Context, type MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { Clock } from "../clock.js";
import type { Config } from "../config.js";
import { authRoutes } from "../console/auth-routes.js";
import { consentUi } from "../console/consent-ui.js";
import { oidcRoutes } from "../console/oidc-routes.js";
import { pageSessionMiddleware } from "../console/page-session.js";
import { identityMiddleware } from "../identity/identity.js";
import type { SessionVariables } from "../identity/sessions.js";
import type { BrandingVariables } from "../console/layout.js";
import type { ConsolePathVariables } from "../console/paths.js";
import { setupRoutes } from "../console/setup-routes.js";
import { adminRoutes } from "../console/admin-routes.js";
import { userRoutes } from "../console/user-routes.js";
import { ApiError } from "../errors.js";
import type { Logger } from "../logger.js";
import { mcpRoutes } from "../mcp/routes.js";
import { oauthRoutes } from "../oauth/routes.js";
import type { Services } from "../services.js";
import type { Database } from "../storage/db.js";
import type { KvStore } from "../storage/kv/kv.js";
import { readBodyCapped } from "../web/body.js";
import { requestLog } from "../web/request-log.js";
import { errorHandler, notFound } from "./errors.js";
import { jwksRoutes } from "../gateway/jwks-route.js";
import type { SigningKeys } from "../gateway/signing-keys.js";
import type { UpstreamHealth } from "../gateway/upstream.js";
import { healthRoutes } from "./health.js";

export interface AppDeps {
  config: Config;
  database: Database;
  kv: KvStore;
  clock: Clock;
  logger: Logger;
  /** Gateway mode: each upstream MCP server's health, in /readyz's detail. */
  upstreamHealth?: () => UpstreamHealth[];
  /** Gateway mode with identity tokens: the keys whose public halves /.well-known/jwks.json serves. */
  signingKeys?: SigningKeys;
}

/** Console forms and the console API are small. */
const CONSOLE_BODY_BYTES = 64 * 1024;

/**
 * Refuses big console bodies before anything parses them (PRODUCT §8). A
 * declared oversized body is read and dropped first, so the refusal reaches
 * the client and its keep-alive socket stays usable (left unread, the adapter
 * may close it under the next request); an undeclared one is cut while it streams.
 */
function consoleBodyLimit(): MiddlewareHandler {
  const tooLarge = () => new ApiError(413, "request_too_large", "The request body is too large.");
  const streamed = bodyLimit({
    maxSize: CONSOLE_BODY_BYTES,
    onError: () => {
      throw tooLarge();
    },
  });
  return async function limitConsoleBody(c, next) {
    if (Number(c.req.header("content-length") ?? 0) > CONSOLE_BODY_BYTES) {
      await readBodyCapped(c.req.raw, CONSOLE_BODY_BYTES).catch(() => {});
      throw tooLarge();
    }
    return streamed(c, next);
  };
}

type Variables = SessionVariables & BrandingVariables & ConsolePathVariables;

export function createApp(deps: AppDeps, services: Services): Hono {
  const { config } = deps;
  const publicOrigin = new URL(config.publicUrl).origin;
  const secureCookies = config.publicUrl.startsWith("https:");
  const app = new Hono<{ Variables: Variables }>();
  app.use(requestLog(deps.logger));
  app.use(async function brand(c, next) {
    c.set("branding", config.branding);
    c.set("consolePath", config.consolePath);
    await next();
  });
  app.route("/", healthRoutes(deps));
  if (deps.signingKeys) app.route("/", jwksRoutes(deps.signingKeys));

  // Pages answer a browser's sign-in refusal with a page; /api keeps JSON. Once per request: Hono's
  // "/user/*" also matches "/user" (listing both ran it twice, and in host mode started two sessions).
  const withPageSession = pageSessionMiddleware(services.identity);
  const limitBody = consoleBodyLimit();
  app.use("/oauth/authorize/*", withPageSession);
  app.post("/oauth/authorize", limitBody);

  // The console, mounted under config.consolePath ("" = the root): with a prefix its paths at the root are
  // left to the embedding app (404 here). /oauth, /mcp and /.well-known stay where the RFCs put them.
  const consoleApp = new Hono<{ Variables: Variables }>();
  for (const path of ["/login", "/logout", "/user/*", "/admin/*", "/setup"]) consoleApp.use(path, withPageSession);
  consoleApp.use("/api/*", identityMiddleware(services.identity));
  for (const path of ["/login", "/logout", "/setup", "/user/*", "/admin/*", "/api/*"]) consoleApp.post(path, limitBody);
  // With the embedding app's sign-in there are no Gatehouse passwords to set: no /setup.
  if (services.identity.kind === "local") {
    consoleApp.route("/", setupRoutes({ db: deps.database.db, kv: deps.kv, sessions: services.sessions, publicOrigin, secureCookies }));
  }
  if (services.oidcSignIn) {
    // Before authRoutes: its GET /login is the provider's redirect here.
    consoleApp.route("/", oidcRoutes({ signIn: services.oidcSignIn, sessions: services.sessions, publicUrl: config.publicUrl, secureCookies }));
  }
  consoleApp.route("/", userRoutes({ apiKeys: services.apiKeys, revocation: services.revocation, flashes: services.flashes, publicOrigin, scopes: services.policy.scopes }));
  consoleApp.route(
    "/",
    adminRoutes({
      db: deps.database.db,
      users: services.users,
      revocation: services.revocation,
      publicOrigin,
      ...(deps.upstreamHealth ? { upstreamHealth: deps.upstreamHealth } : {}),
    }),
  );
  consoleApp.route(
    "/",
    authRoutes({
      db: deps.database.db,
      sessions: services.sessions,
      identity: services.identity,
      publicOrigin,
      secureCookies,
      trustProxy: config.trustProxy,
      loginLimitByIp: services.rateLimits.loginByIp,
      loginLimitByIpAccount: services.rateLimits.loginByIpAccount,
      loginLimitByAccount: services.rateLimits.loginByAccount,
    }),
  );
  const toUser = (c: Context) => c.redirect(`${config.consolePath}/user`, 302);
  app.get(config.consolePath || "/", toUser);
  if (config.consolePath) app.get(`${config.consolePath}/`, toUser);
  app.route(config.consolePath || "/", consoleApp);
  app.route(
    "/",
    oauthRoutes({
      ...services,
      clock: deps.clock,
      lifetimes: config,
      trustProxy: config.trustProxy,
      errorRedirects: config.errorRedirects,
      secretFailures: services.rateLimits.clientSecret,
      register: { db: deps.database.db, clock: deps.clock, trustProxy: config.trustProxy, registerLimit: services.rateLimits.register },
      ui: consentUi({ publicOrigin, catalog: services.registry.catalog(), signInUrl: (returnTo) => services.identity.signInUrl(returnTo) }),
    }),
  );
  app.route(
    "/",
    mcpRoutes({
      policy: services.policy,
      tokens: services.tokenCache,
      lastUsed: services.lastUsed,
      apiKeys: services.mcpApiKeys,
      endpoint: services.mcp,
      publicUrl: config.publicUrl,
      allowedOrigins: config.allowedOrigins,
    }),
  );
  app.notFound(notFound);
  app.onError(errorHandler(deps.logger));
  return app as unknown as Hono;
}
