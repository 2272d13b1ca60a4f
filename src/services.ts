/**
 * Every service Gatehouse runs on, built once from its dependencies. The
 * stores are stateless views over the database and KV store; the things with
 * a lifetime (database, bus, timers) come in from the composition root
 * (gatehouse.ts), which alone opens and closes them. Cross-module rules are
 * services of their own (revocation, last-used), never closures in the HTTP
 * layer.
 */
import { randomBytes } from "node:crypto";
import { apiKeyClientId, ApiKeyStore } from "./accounts/api-keys.js";
import { UserDirectory } from "./accounts/directory.js";
import type { EventBus } from "./bus/bus.js";
import type { Clock } from "./clock.js";
import type { Config } from "./config.js";
import { consoleBaseUrl } from "./console/paths.js";
import { FlashStore } from "./console/flash.js";
import { hostIdentity, type IdentityOption } from "./identity/host.js";
import { localIdentity, type IdentitySource } from "./identity/identity.js";
import { SessionStore } from "./identity/sessions.js";
import { OidcSignIn, oidcIdentity } from "./identity/oidc.js";
import type { Logger } from "./logger.js";
import { McpEndpoint } from "./mcp/endpoint.js";
import type { McpRegistry } from "./mcp/registry.js";
import { McpSessionStore } from "./mcp/sessions.js";
import type { CimdFetchOptions } from "./oauth/cimd.js";
import { ClientStore, type FetchDocument } from "./oauth/clients.js";
import type { BearerDeps } from "./oauth/bearer.js";
import { AuthorizationCodes } from "./oauth/codes.js";
import { ConnectionStore } from "./oauth/connections.js";
import { LastUsed } from "./oauth/last-used.js";
import { PendingAuthorizations } from "./oauth/pending.js";
import { createPolicy, type OAuthPolicy } from "./oauth/policy.js";
import { Revocation } from "./oauth/revocation.js";
import { AccessTokenCache } from "./oauth/token-cache.js";
import type { Database } from "./storage/db.js";
import type { KvStore } from "./storage/kv/kv.js";
import { createRateLimit, type RateLimit } from "./storage/rate-limit.js";

export interface RateLimits {
  register: RateLimit;
  /** Every sign-in attempt from one address. */
  loginByIp: RateLimit;
  /** Attempts on one account from one address: blocks a guesser there, never the owner elsewhere. */
  loginByIpAccount: RateLimit;
  /** Wrong passwords for one account from anywhere: past it every attempt is slowed, never refused. */
  loginByAccount: RateLimit;
  /** Wrong client secrets per client_id at /oauth/token, /oauth/revoke and /oauth/introspect. */
  clientSecret: RateLimit;
  /** New metadata-document fetches per address (a cached document costs nothing). */
  cimdFetch: RateLimit;
}

/** Test and advanced overrides (GatehouseOptions.appDeps). */
export interface ServiceOverrides {
  /** Scopes offered beside `mcp` and those the registry's definitions declare. */
  toolScopes?: readonly string[];
  rateLimits?: Partial<RateLimits>;
  /** The metadata-document fetcher and its trust anchors. */
  cimd?: Partial<CimdFetchOptions>;
  fetchDocument?: FetchDocument;
  /** Identifies this process in event ids and bus messages (8 lowercase alphanumerics). */
  nodeId?: string;
}

export interface ServiceDeps extends ServiceOverrides {
  config: Config;
  database: Database;
  kv: KvStore;
  clock: Clock;
  logger: Logger;
  /** Tools, resources and prompts served at /mcp. */
  registry: McpRegistry;
  /** How nodes tell each other about revocations and changes. */
  bus: EventBus;
  /** Who signs people in (default: `config.oidc` when set, else Gatehouse's own password accounts). */
  identity?: IdentityOption;
}

export interface Services {
  policy: OAuthPolicy;
  registry: McpRegistry;
  bus: EventBus;
  mcp: McpEndpoint;
  mcpSessions: McpSessionStore;
  tokenCache: AccessTokenCache;
  lastUsed: LastUsed;
  clients: ClientStore;
  codes: AuthorizationCodes;
  pending: PendingAuthorizations;
  connections: ConnectionStore;
  revocation: Revocation;
  sessions: SessionStore;
  /** Who is signed in on a console request: the local accounts or the embedding app. */
  identity: IdentitySource;
  /** The OpenID Connect sign-in, with the `oidc` identity source; otherwise null. */
  oidcSignIn: OidcSignIn | null;
  /** Accounts, for the embedder (`gatehouse.users`). */
  users: UserDirectory;
  flashes: FlashStore;
  apiKeys: ApiKeyStore;
  /** Personal API keys as /mcp bearer tokens, only with GATEHOUSE_API_KEYS_AT_MCP. */
  mcpApiKeys: BearerDeps["apiKeys"];
  rateLimits: RateLimits;
}

/**
 * A key at /mcp looks like a connection of its own: its id stands for the
 * connection (last-used, revocation), `api_key:<id>` for the client (its
 * sessions), its name for the client's. Without an expiry it is re-checked
 * on every request anyway, so the hour is only what the SDK is told.
 */
function apiKeysAtMcp(apiKeys: ApiKeyStore, policy: OAuthPolicy, clock: Clock): NonNullable<BearerDeps["apiKeys"]> {
  return {
    async verify(token) {
      const key = await apiKeys.verifyForMcp(token);
      if (!key) return null;
      return {
        userId: key.userId,
        userEmail: key.email,
        clientName: key.name,
        clientId: apiKeyClientId(key.id),
        connectionId: key.id,
        scopes: key.scopes,
        resource: policy.resource,
        expiresAt: key.expiresAt ?? clock.now() + 3_600_000,
      };
    },
  };
}

export function createServices(deps: ServiceDeps): Services {
  const { config, database, clock, kv, bus, registry, logger } = deps;
  const db = database.db;
  const connections = new ConnectionStore(db, clock);
  const mcpSessions = new McpSessionStore(db, clock);
  const tokenCache = new AccessTokenCache((token) => connections.verifyAccessToken(token), () => bus.reliable, clock);
  const rateLimits: RateLimits = {
    register: createRateLimit(db, { name: "register", points: 20, durationSeconds: 60 }),
    loginByIp: createRateLimit(db, { name: "login-ip", points: 30, durationSeconds: 300 }),
    loginByIpAccount: createRateLimit(db, { name: "login-ip-account", points: 10, durationSeconds: 900, blockSeconds: 900 }),
    loginByAccount: createRateLimit(db, { name: "login-account", points: 30, durationSeconds: 900 }),
    clientSecret: createRateLimit(db, { name: "client-secret", points: 20, durationSeconds: 300, blockSeconds: 300 }),
    cimdFetch: createRateLimit(db, { name: "cimd-fetch", points: 20, durationSeconds: 60 }),
    ...deps.rateLimits,
  };
  const sessions = new SessionStore({ db, clock, secureCookies: config.publicUrl.startsWith("https:") });
  const identityOption = deps.identity ?? { kind: "local" };
  const identity =
    identityOption.kind === "host"
      ? hostIdentity(identityOption, { db, sessions })
      : identityOption.kind === "oidc"
        ? oidcIdentity(sessions, config.consolePath)
        : localIdentity(sessions, config.consolePath);
  const oidcSignIn =
    identityOption.kind === "oidc" ? new OidcSignIn(identityOption, { db, kv, publicUrl: config.publicUrl, consolePath: config.consolePath, logger }) : null;
  const revocation = new Revocation({ connections, tokenCache, sessions: mcpSessions, bus, logger });
  const policy = createPolicy(config.publicUrl, [...(deps.toolScopes ?? []), ...registry.scopes()], `${config.branding.name} MCP`);
  const apiKeys = new ApiKeyStore(db, clock);
  return {
    policy,
    registry,
    bus,
    mcp: new McpEndpoint({
      registry,
      sessions: mcpSessions,
      kv,
      clock,
      bus,
      nodeId: deps.nodeId ?? randomNodeId(),
      eventTtlMs: config.eventTtlMs,
      limits: config.mcpLimits,
      jsonAnswers: config.mcpJsonAnswers,
      logger,
    }),
    mcpSessions,
    tokenCache,
    lastUsed: new LastUsed(connections, clock, logger),
    connections,
    revocation,
    clients: new ClientStore({
      db,
      clock,
      cimd: { allowHosts: config.cimdAllowHosts, ...deps.cimd },
      ...(deps.fetchDocument ? { fetchDocument: deps.fetchDocument } : {}),
      fetchLimit: rateLimits.cimdFetch,
      logger,
    }),
    codes: new AuthorizationCodes(kv, config.authCodeTtlMs),
    pending: new PendingAuthorizations(kv),
    sessions,
    identity,
    oidcSignIn,
    users: new UserDirectory({ db, kv, consoleUrl: consoleBaseUrl(config), clock, removal: revocation, passwords: identity.kind === "local" }),
    flashes: new FlashStore(kv, clock),
    apiKeys,
    mcpApiKeys: config.apiKeysAtMcp ? apiKeysAtMcp(apiKeys, policy, clock) : undefined,
    rateLimits,
  };
}

function randomNodeId(): string {
  return [...randomBytes(8)].map((b) => "0123456789abcdefghijklmnopqrstuvwxyz"[b % 36]).join("");
}
