/**
 * createApp(deps): the whole HTTP surface, built only from what it is given.
 * Nothing below this reads the environment or owns a lifetime; the stores
 * built here are stateless views over the database and KV.
 */
import { Hono, type MiddlewareHandler } from "hono";
import { readBodyCapped } from "../web/body.js";
import { bodyLimit } from "hono/body-limit";
import { ApiError } from "../errors.js";
import type { Clock } from "../clock.js";
import type { Config } from "../config.js";
import { ApiKeyStore } from "../accounts/api-keys.js";
import { authRoutes } from "../console/auth-routes.js";
import { setupRoutes } from "../console/setup-routes.js";
import { userRoutes } from "../console/user-routes.js";
import { FlashStore } from "../console/flash.js";
import { errorPage } from "../console/layout.js";
import { consentPage } from "../console/pages/consent.js";
import { checkCsrf, csrfToken, isSameOriginWrite, SessionStore, type SessionVariables } from "../console/session.js";
import type { Logger } from "../logger.js";
import type { CimdFetchOptions } from "../oauth/cimd.js";
import { ClientStore, type FetchDocument } from "../oauth/clients.js";
import { AuthorizationCodes } from "../oauth/codes.js";
import { ConnectionStore } from "../oauth/connections.js";
import { AccessTokenCache } from "../oauth/token-cache.js";
import { McpEndpoint } from "../mcp/endpoint.js";
import type { EventBus } from "../bus/bus.js";
import { InProcessBus } from "../bus/in-process.js";
import { McpRegistry } from "../mcp/registry.js";
import { mcpRoutes } from "../mcp/routes.js";
import { McpSessionStore } from "../mcp/sessions.js";
import { randomBytes } from "node:crypto";
import { createPolicy, type OAuthPolicy } from "../oauth/policy.js";
import { oauthRoutes } from "../oauth/routes.js";
import type { Database } from "../storage/db.js";
import type { KvStore } from "../storage/kv/kv.js";
import { errorHandler, notFound } from "./errors.js";
import { healthRoutes } from "./health.js";
import { createRateLimit, type RateLimit } from "../storage/rate-limit.js";
import { requestLog } from "../web/request-log.js";

export interface RateLimits {
  register: RateLimit;
  loginByIp: RateLimit;
  loginByAccount: RateLimit;
  /** Wrong client secrets per client_id at /oauth/token, /oauth/revoke and /oauth/introspect. */
  clientSecret: RateLimit;
}

export interface AppDeps {
  config: Config;
  database: Database;
  kv: KvStore;
  clock: Clock;
  logger: Logger;
  /** Scopes declared by tools, offered beside `mcp`. */
  toolScopes?: readonly string[];
  /** Overrides for tests: rate limits, and the metadata-document fetcher and its trust anchors. */
  rateLimits?: Partial<RateLimits>;
  cimd?: Partial<CimdFetchOptions>;
  fetchDocument?: FetchDocument;
  /** Tools, resources and prompts served at /mcp (default: the built-in whoami only). */
  registry?: McpRegistry;
  /** How nodes tell each other about revocations and changes (default: in-process). */
  bus?: EventBus;
  /** Identifies this process in event ids and bus messages (8 lowercase alphanumerics). */
  nodeId?: string;
}

export interface Services {
  policy: OAuthPolicy;
  registry: McpRegistry;
  bus: EventBus;
  mcp: McpEndpoint;
  mcpSessions: McpSessionStore;
  tokenCache: AccessTokenCache;
  clients: ClientStore;
  codes: AuthorizationCodes;
  connections: ConnectionStore;
  sessions: SessionStore;
  flashes: FlashStore;
  apiKeys: ApiKeyStore;
  rateLimits: RateLimits;
}

export function createServices(deps: AppDeps): Services {
  const { config, database, clock, kv } = deps;
  const db = database.db;
  const secureCookies = config.publicUrl.startsWith("https:");
  const registry = deps.registry ?? new McpRegistry();
  const bus = deps.bus ?? new InProcessBus();
  const mcpSessions = new McpSessionStore(db, clock);
  const connections = new ConnectionStore({
    db,
    clock,
    accessTokenTtlMs: config.accessTokenTtlMs,
    refreshTokenTtlMs: config.refreshTokenTtlMs,
    onRevoked: (revoked) => {
      // This node stops honouring the connection's tokens before the revocation is answered; other nodes within bus latency.
      tokenCache.dropConnection(revoked.connectionId);
      // PRODUCT §6: a deleted connection ends its sessions and streams on every node; a replaced one keeps them.
      const closeSessions = revoked.reason !== "replaced";
      void (async () => {
        if (closeSessions) await mcpSessions.deleteFor(revoked.userId, revoked.clientId);
        await bus.publish({ type: "connection-revoked", ...revoked, closeSessions });
      })().catch((error: unknown) => deps.logger.error("revocation broadcast failed", { error }));
    },
    onAccessTokenRevoked: (tokenHash) => {
      tokenCache.dropToken(tokenHash);
      bus.publish({ type: "access-token-revoked", tokenHash }).catch((error: unknown) => deps.logger.error("revocation broadcast failed", { error }));
    },
  });
  const tokenCache = new AccessTokenCache((token) => connections.verifyAccessToken(token), () => bus.reliable, clock);
  bus.subscribe((message) => {
    if (message.type === "connection-revoked") tokenCache.dropConnection(message.connectionId);
    else if (message.type === "access-token-revoked") tokenCache.dropToken(message.tokenHash);
    else if (message.type === "user-removed") tokenCache.clear();
  });
  bus.onReset(() => tokenCache.clear());
  const mcp = new McpEndpoint({
    registry,
    sessions: mcpSessions,
    kv,
    clock,
    bus,
    nodeId: deps.nodeId ?? randomNodeId(),
    eventTtlMs: config.eventTtlMs,
    limits: config.mcpLimits,
    logger: deps.logger,
  });
  return {
    policy: createPolicy(config.publicUrl, [...(deps.toolScopes ?? []), ...registry.scopes()]),
    registry,
    bus,
    mcp,
    mcpSessions,
    tokenCache,
    connections,
    clients: new ClientStore({
      db,
      clock,
      cimd: { allowHosts: config.cimdAllowHosts, ...deps.cimd },
      ...(deps.fetchDocument ? { fetchDocument: deps.fetchDocument } : {}),
    }),
    codes: new AuthorizationCodes(kv, config.authCodeTtlMs),
    sessions: new SessionStore({ db, clock, secureCookies }),
    flashes: new FlashStore(kv, clock),
    apiKeys: new ApiKeyStore(db, clock),
    rateLimits: {
      register: createRateLimit(db, { name: "register", points: 20, durationSeconds: 60 }),
      loginByIp: createRateLimit(db, { name: "login-ip", points: 30, durationSeconds: 300 }),
      loginByAccount: createRateLimit(db, { name: "login-account", points: 10, durationSeconds: 900, blockSeconds: 900 }),
      clientSecret: createRateLimit(db, { name: "client-secret", points: 20, durationSeconds: 300, blockSeconds: 300 }),
      ...deps.rateLimits,
    },
  };
}

function randomNodeId(): string {
  return [...randomBytes(8)].map((b) => "0123456789abcdefghijklmnopqrstuvwxyz"[b % 36]).join("");
}

export function createApp(deps: AppDeps, services: Services = createServices(deps)) {
  const { config } = deps;
  const publicOrigin = new URL(config.publicUrl).origin;
  // "Last used" on /user: written at most once a minute per connection, off the request path.
  const lastWrites = new Map<string, number>();
  const recordUse = (connectionId: string) => {
    const now = deps.clock.now();
    if (now - (lastWrites.get(connectionId) ?? 0) < 60_000) return;
    if (lastWrites.size >= 10_000) lastWrites.clear();
    lastWrites.set(connectionId, now);
    services.connections.touch(connectionId, now).catch((error: unknown) => deps.logger.warn("last-used update failed", { error }));
  };
  const app = new Hono<{ Variables: SessionVariables }>();
  app.use(requestLog(deps.logger));
  app.route("/", healthRoutes(deps));

  const withSession = services.sessions.middleware();
  for (const path of ["/login", "/logout", "/oauth/authorize", "/oauth/authorize/*", "/user", "/user/*", "/setup", "/api/*"]) {
    app.use(path, withSession);
  }
  app.get("/", (c) => c.redirect("/user", 302));
  // Console forms and the console API are small: refuse big bodies before anything parses them (PRODUCT §8).
  const tooLarge = () => new ApiError(413, "request_too_large", "The request body is too large.");
  const streamedLimit = bodyLimit({
    maxSize: 64 * 1024,
    onError: () => {
      throw tooLarge();
    },
  });
  const consoleBodyLimit: MiddlewareHandler = async (c, next) => {
    // A declared oversized body is read and dropped first, so the refusal reaches the client and its keep-alive
    // socket stays usable (left unread, the adapter may close it under the next request).
    if (Number(c.req.header("content-length") ?? 0) > 64 * 1024) {
      await readBodyCapped(c.req.raw, 64 * 1024).catch(() => {});
      throw tooLarge();
    }
    return streamedLimit(c, next);
  };
  for (const path of ["/login", "/logout", "/setup", "/user/*", "/api/*", "/oauth/authorize"]) app.post(path, consoleBodyLimit);
  app.route(
    "/",
    setupRoutes({ db: deps.database.db, kv: deps.kv, sessions: services.sessions, publicOrigin, secureCookies: config.publicUrl.startsWith("https:") }),
  );
  app.route("/", userRoutes({ apiKeys: services.apiKeys, connections: services.connections, flashes: services.flashes, publicOrigin }));

  app.route(
    "/",
    authRoutes({
      db: deps.database.db,
      sessions: services.sessions,
      publicOrigin,
      secureCookies: config.publicUrl.startsWith("https:"),
      trustProxy: config.trustProxy,
      loginLimitByIp: services.rateLimits.loginByIp,
      loginLimitByAccount: services.rateLimits.loginByAccount,
    }),
  );
  app.route(
    "/",
    oauthRoutes({
      ...services,
      secretFailures: services.rateLimits.clientSecret,
      register: { db: deps.database.db, clock: deps.clock, trustProxy: config.trustProxy, registerLimit: services.rateLimits.register },
      authorize: {
        kv: deps.kv,
        currentUser: (c) => {
          const session = (c.var as SessionVariables).session;
          return session ? { userId: session.userId, email: session.email } : null;
        },
        signInUrl: (returnTo) => `/login?return_to=${encodeURIComponent(returnTo)}`,
        renderConsent: (c, pending, user) => {
          const session = (c.var as SessionVariables).session!;
          return consentPage(c, pending, user, {
            consent: csrfToken(session, `consent:${pending.id}`),
            logout: csrfToken(session, "logout"),
          });
        },
        renderError: (c, title, message, status) => errorPage(c, title, message, status),
        checkDecisionRequest: (c, requestId, token) => {
          const session = (c.var as SessionVariables).session;
          return !!session && isSameOriginWrite(c, publicOrigin) && checkCsrf(session, `consent:${requestId}`, token);
        },
      },
    }),
  );
  app.route(
    "/",
    mcpRoutes({
      policy: services.policy,
      verifyAccessToken: async (token) => {
        const info = await services.tokenCache.verifyAccessToken(token);
        if (info) recordUse(info.connectionId);
        return info;
      },
      endpoint: services.mcp,
      publicUrl: config.publicUrl,
      allowedOrigins: config.allowedOrigins,
    }),
  );
  app.notFound(notFound);
  app.onError(errorHandler(deps.logger));
  return app;
}
