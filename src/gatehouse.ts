/**
 * createGatehouse: the composition root, for the library and the server
 * alike. It alone builds what has a lifetime — the database (unless the
 * embedder brings one), the bus, the sweep timers, the admin socket on a
 * PGlite data directory it owns — builds the services (services.ts) and the
 * app (app/app.ts), and closes everything it opened. `startServer` only adds
 * a listener.
 */
import { lt } from "drizzle-orm";
import type { Hono } from "hono";
import { countUsers } from "./accounts/users.js";
import { issueSetupLink } from "./accounts/setup-links.js";
import { localAdmin } from "./admin.js";
import type { UserDirectory } from "./accounts/directory.js";
import { listenAdminSocket } from "./app/admin-socket.js";
import { createApp, type AppDeps } from "./app/app.js";
import type { EventBus } from "./bus/bus.js";
import { openBus } from "./bus/open.js";
import { systemClock, type Clock } from "./clock.js";
import { consoleBaseUrl } from "./console/paths.js";
import { brandingProblem, ConfigError, consolePathProblem, DEFAULT_BRANDING, type Branding, type Config } from "./config.js";
import { StartupError } from "./errors.js";
import { host, type HostIdentityOptions, type IdentityOption } from "./identity/host.js";
import { oidc } from "./identity/oidc.js";
import { loadGatewayConfig, parseGatewayConfig, type UpstreamOptions } from "./gateway/config.js";
import { startGateway, type Gateway } from "./gateway/gateway.js";
import { relayListChanges } from "./gateway/notifications.js";
import { identityTokenSigner } from "./gateway/identity-token.js";
import { SIGNING_KEY_RELOAD_MS } from "./gateway/signing-key-set.js";
import { loadSigningKeys, type SigningKeys } from "./gateway/signing-keys.js";
import { createLogger, type Logger } from "./logger.js";
import type { PromptDefinition, ResourceDefinition, ToolDefinition } from "./mcp/define.js";
import type { Notifier } from "./mcp/endpoint.js";
import { McpRegistry, type RegistryOptions } from "./mcp/registry.js";
import { createServices, type ServiceDeps, type ServiceOverrides, type Services } from "./services.js";
import type { Database } from "./storage/db.js";
import { PostgresKvStore } from "./storage/kv/postgres.js";
import { openAndMigrate } from "./storage/open.js";
import { rateLimits } from "./storage/schema.js";

export interface GatehouseOptions {
  /** A validated configuration (see `loadConfig`). */
  config: Config;
  /** The embedder's database; otherwise one is opened from `config` (PGlite or DATABASE_URL). Migrated either way. */
  database?: Database;
  tools?: ToolDefinition[];
  resources?: ResourceDefinition[];
  prompts?: PromptDefinition[];
  /**
   * Gateway mode: existing MCP servers whose tools Gatehouse offers behind its
   * OAuth (README "Gateway"). Default: those in `config.configFile`, if set.
   */
  upstreams?: UpstreamOptions[];
  /**
   * Product name and logo on pages, titles and metadata (default: `config.branding`,
   * from GATEHOUSE_BRAND_NAME / GATEHOUSE_BRAND_LOGO_URL). The name is also the MCP
   * server name unless `server.name` is given.
   */
  branding?: Partial<Branding>;
  /**
   * Where the console's pages and API live (default: `config.consolePath`, from GATEHOUSE_CONSOLE_PATH; ""
   * is the root): `/gatehouse` serves /gatehouse/login, /gatehouse/user, /gatehouse/api/…, leaving those
   * paths at the root to the embedding app. /mcp, /oauth/*, /.well-known/* and the probes never move.
   */
  consolePath?: string;
  /** Server name, version, instructions and SDK-level options for /mcp. */
  server?: Omit<RegistryOptions, "tools" | "resources" | "prompts">;
  clock?: Clock;
  logger?: Logger;
  /** Test and advanced overrides for the services (rate limits, CIMD trust anchors, node id, extra scopes). */
  appDeps?: ServiceOverrides;
  /**
   * How nodes tell each other about revocations and changes. Default: PostgreSQL
   * LISTEN/NOTIFY when the database is a pool, in-process on PGlite. Closed with Gatehouse.
   */
  bus?: EventBus;
  /**
   * Who signs people in: Gatehouse's own password accounts (default, `local()`), or the embedding app
   * (`host({ currentUser, signInUrl })`, or those options as they are), or an OpenID Connect provider
   * (`oidc({ issuer, clientId })`; default when `config.oidc` is set); their users get accounts on first sight.
   */
  identity?: IdentityOption | HostIdentityOptions;
  /** Called with the one-time first-account link when the database has no users (default: logged; never with `host` identity). */
  onSetupLink?: (url: string) => void;
  /** Sweep interval for expired rows and idle sessions (default 60 s). */
  sweepIntervalMs?: number;
  /** How often idle live MCP sessions are dropped from memory (default 5 s). */
  liveSweepIntervalMs?: number;
  /** How often the identity-token signing keys are reread besides on a bus message (default 60 s; rotation relies on it being ≤ 60 s). */
  signingKeyReloadMs?: number;
}

export interface Gatehouse {
  /** Mount with `app.route("/", gatehouse.app)` or serve `gatehouse.app.fetch`. */
  app: Hono;
  /** Tell listeners on every node that tools, prompts or resources changed. */
  notify: Notifier;
  database: Database;
  deps: ServiceDeps;
  services: Services;
  /** Accounts: create, find, list, setup links, remove (what `gatehouse user …` does, in-process). */
  users: UserDirectory;
  /** The upstream MCP servers in front of which Gatehouse runs (gateway mode), or null. */
  gateway: Gateway | null;
  /** Removes expired rows, idle sessions and unused clients now (also runs on a timer). */
  sweep(): Promise<void>;
  /** Stops timers, closes sessions and streams, and closes the database if Gatehouse opened it. */
  close(): Promise<void>;
}

export async function createGatehouse(options: GatehouseOptions): Promise<Gatehouse> {
  const config = withConsolePath(withBranding(options.config, options.branding), options.consolePath);
  const logger = options.logger ?? createLogger({ level: config.logLevel, format: config.logFormat });
  const clock = options.clock ?? systemClock;
  // A bad gateway file fails before anything is opened.
  const upstreams = options.upstreams
    ? parseGatewayConfig({ upstreams: options.upstreams }, "upstreams")
    : config.configFile
      ? loadGatewayConfig(config.configFile)
      : [];
  const ownsDatabase = !options.database;
  const database = await openAndMigrate(config, options.database);
  const kv = new PostgresKvStore(database.db, clock);
  const bus = options.bus ?? (await openBus(database, kv, logger));
  const identity: IdentityOption | undefined = !options.identity
    ? config.oidc && oidc(config.oidc)
    : "kind" in options.identity
      ? options.identity
      : host(options.identity);
  // Upstream tools are listed before the registry is built; each upstream's offer is replaced when it changes (gateway/notifications.ts).
  let gateway: Gateway | null = null;
  let registry: McpRegistry;
  let signingKeys: SigningKeys | null = null;
  try {
    const algorithms = upstreams.flatMap((upstream) => (upstream.kind === "http" && upstream.identityToken ? [upstream.identityToken.algorithm] : []));
    if (algorithms.length > 0) signingKeys = await loadSigningKeys(kv, algorithms, clock);
    const tokens = signingKeys ? identityTokenSigner(signingKeys, config.publicUrl, clock) : undefined;
    gateway = upstreams.length > 0 ? await startGateway(upstreams, logger, clock, tokens) : null;
    registry = new McpRegistry({
      ...(config.branding.name !== DEFAULT_BRANDING.name ? { name: config.branding.name } : {}),
      ...options.server,
      ...(options.tools ? { tools: options.tools } : {}),
      ...(options.resources ? { resources: options.resources } : {}),
      ...(options.prompts ? { prompts: options.prompts } : {}),
    });
    gateway?.upstreams.forEach((upstream, i) => registry.offer(upstream.name, gateway!.listed[i]!.offered));
  } catch (error) {
    // Two tools with one name: nothing started here may outlive the failed start.
    await gateway?.close();
    await bus.close();
    if (ownsDatabase) await database.close();
    throw error;
  }
  // An upstream's scopes are grantable whatever it offered at start-up: its tools may come later (a list change).
  const upstreamScopes = upstreams.flatMap((upstream) => upstream.scopes ?? []);
  const deps: ServiceDeps & AppDeps = {
    ...options.appDeps,
    ...(upstreamScopes.length > 0 ? { toolScopes: [...(options.appDeps?.toolScopes ?? []), ...upstreamScopes] } : {}),
    config, database, kv, clock, logger, registry, bus,
    ...(gateway ? { upstreamHealth: gateway.health } : {}),
    ...(signingKeys ? { signingKeys } : {}),
    ...(identity ? { identity } : {}),
  };
  const services = createServices(deps);
  if (gateway) relayListChanges(gateway, registry, services.mcp.notify, logger);
  const app = createApp(deps, services);

  const sweep = async () => {
    await kv.sweepExpired(1000);
    await services.connections.sweep(config.refreshTokenTtlMs);
    // Expired connections end like revoked ones: off /user, their sessions closed on every node.
    for (const id of await services.connections.findExpired(500)) await services.revocation.revokeConnection(id);
    await services.sessions.sweep();
    await services.mcpSessions.sweep();
    await services.clients.purgeUnused();
    await services.mcp.sweep();
    await database.db.delete(rateLimits).where(lt(rateLimits.expire, new Date(clock.now())));
  };
  const sweeper = setInterval(() => {
    sweep().catch((error: unknown) => logger.warn("expiry sweep failed", { error }));
  }, options.sweepIntervalMs ?? 60_000);
  sweeper.unref();
  // Live MCP state is in memory only and cheap to check: dropped soon after it goes idle.
  const liveSweeper = setInterval(() => {
    services.mcp.sweep().catch((error: unknown) => logger.warn("live session sweep failed", { error }));
  }, options.liveSweepIntervalMs ?? 5_000);
  liveSweeper.unref();
  // Rotated signing keys reach every node on the bus, or by the next reload if the message is missed (signing-key-set.ts).
  const reloadKeys = () => {
    signingKeys?.reload().catch((error: unknown) => logger.warn("signing key reload failed", { error }));
  };
  const unsubscribeKeys = bus.subscribe((message) => {
    if (message.type === "signing-keys-changed") reloadKeys();
  });
  const unsubscribeKeysReset = bus.onReset(reloadKeys);
  const keyReloader = signingKeys ? setInterval(reloadKeys, options.signingKeyReloadMs ?? SIGNING_KEY_RELOAD_MS) : null;
  keyReloader?.unref();

  let closeAdminSocket = async () => {};
  const shutDown = async () => {
    clearInterval(sweeper);
    clearInterval(liveSweeper);
    if (keyReloader) clearInterval(keyReloader);
    unsubscribeKeys();
    unsubscribeKeysReset();
    await closeAdminSocket();
    services.revocation.close();
    await services.mcp.close();
    await gateway?.close();
    await bus.close();
    if (ownsDatabase) await database.close();
  };
  try {
    // PGlite lets one process open a data directory: the CLI reaches the data through this socket (PRODUCT §3).
    if (ownsDatabase && !config.databaseUrl) {
      const ops = localAdmin({ database, kv, publicUrl: config.publicUrl, consolePath: config.consolePath, revocation: services.revocation, bus, clock });
      closeAdminSocket = await listenAdminSocket(config.dataDir, ops, logger).catch((error: unknown) => {
        throw new StartupError(`cannot open the admin socket in ${config.dataDir}: ${(error as Error).message}`, { cause: error });
      });
    }
    // With the host's sign-in there is no first account to set up: accounts come with their first sign-in.
    if (services.identity.kind === "local" && (await countUsers(database.db)) === 0) {
      const link = await issueSetupLink(kv, consoleBaseUrl(config), { kind: "first-account" });
      (options.onSetupLink ?? ((url) => logger.info(`no accounts yet: open ${url} to create the first one`)))(link);
    }
  } catch (error) {
    await shutDown();
    throw error;
  }

  let closing: Promise<void> | null = null;
  return {
    app,
    notify: services.mcp.notify,
    database,
    deps,
    services,
    users: services.users,
    gateway,
    sweep,
    close: () => (closing ??= shutDown()),
  };
}

/** The embedder's console path over the configuration's, checked like the variable. */
function withConsolePath(config: Config, consolePath: string | undefined): Config {
  if (consolePath === undefined) return config;
  const problem = consolePathProblem(consolePath);
  if (problem) throw new ConfigError("consolePath", problem);
  return { ...config, consolePath };
}

/** The embedder's branding over the configuration's, checked like the variables. */
function withBranding(config: Config, branding: Partial<Branding> | undefined): Config {
  if (!branding) return config;
  const merged: Branding = { ...config.branding, ...Object.fromEntries(Object.entries(branding).filter(([, v]) => v !== undefined)) };
  const problem = brandingProblem(merged);
  if (problem) throw new ConfigError("branding", problem);
  return { ...config, branding: merged };
}
