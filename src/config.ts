/**
 * The only module that reads the environment. Everything else receives a
 * validated `Config`. A bad value stops start-up with one line naming the
 * variable (`ConfigError`), never a stack trace.
 */
import path from "node:path";
import { oidcConfig, type OidcConfig } from "./config-oidc.js";
import { ConfigError, count, duration, flag, list, port, secureUrl, type Env } from "./config-values.js";

export { normalizeIssuer, type OidcConfig } from "./config-oidc.js";
export { ConfigError, parseDuration } from "./config-values.js";

export interface Config {
  port: number;
  host: string;
  /** Issuer and base of every advertised URL; no trailing slash. */
  publicUrl: string;
  databaseUrl: string | undefined;
  dataDir: string;
  accessTokenTtlMs: number;
  refreshTokenTtlMs: number;
  authCodeTtlMs: number;
  eventTtlMs: number;
  /** Origins allowed on /mcp (DNS-rebinding protection). */
  allowedOrigins: string[];
  trustProxy: boolean;
  /**
   * Where an error in a signed-in person's authorization request goes:
   * `always` back to the verified redirect URI (OAuth 2.1 §4.1.2.1), or
   * `trusted` only to loopback, private-use or operator-registered ones and
   * as a page with a link otherwise (RFC 9700 §4.11.2).
   */
  errorRedirects: "always" | "trusted";
  /** The product name and logo on pages, titles, metadata and server info (embedders: `createGatehouse({ branding })`). */
  branding: Branding;
  /** Personal API keys are also bearer tokens at /mcp, with their own scopes (PRODUCT §6: off by default). */
  apiKeysAtMcp: boolean;
  cimdAllowHosts: string[];
  logFormat: "text" | "json";
  logLevel: "debug" | "info" | "warn" | "error" | "silent";
  /** What one caller may hold or send at /mcp (README "Limits"). */
  mcpLimits: McpLimits;
  /**
   * 2025 session calls that send nothing before their answer are answered as `application/json` instead
   * of a primed SSE stream (README "2025 sessions"): no event written per call. Off by default.
   */
  mcpJsonAnswers: boolean;
  /** The gateway configuration file (GATEHOUSE_CONFIG, or `gatehouse start --config`): upstream MCP servers to front. */
  configFile: string | undefined;
  /** Sign-in with an OpenID Connect provider (GATEHOUSE_IDENTITY=oidc); undefined → Gatehouse's own passwords. */
  oidc: OidcConfig | undefined;
  /** Where /login, /user, /api, /admin and /setup live: "" (the root) or a path such as `/gatehouse`. */
  consolePath: string;
}

/**
 * Caps on what one caller can make /mcp hold or echo (PRODUCT §8: oversized
 * input gets a clear 4xx, never a 500 or unbounded memory). Each is enforced
 * where the thing is created; the caller sees a JSON-RPC error saying which.
 */
export interface McpLimits {
  /** Bytes of one POST body, cut while it streams in. */
  maxBodyBytes: number;
  /** Live 2025 sessions per user (all clients); one more evicts the user's least recently used idle one. */
  maxSessionsPerUser: number;
  /** GET streams (standalone and resumptions) one user holds open on one node. */
  maxGetStreamsPerUser: number;
  /** `clientInfo` plus `capabilities` of an `initialize`, serialized: stored with the session. */
  maxClientInfoBytes: number;
  /** Stored events per SSE stream, besides `GATEHOUSE_EVENT_TTL`: the oldest go first. */
  maxEventsPerStream: number;
  /** Characters of a method, tool or prompt name, or task id in a request: such names come back in errors. */
  maxNameChars: number;
  /** Characters of a resource URI in a request. */
  maxUriChars: number;
  /** `resources/subscribe` URIs one 2025 session holds. */
  maxSubscriptionsPerSession: number;
}

export const DEFAULT_MCP_LIMITS: Readonly<McpLimits> = Object.freeze({
  maxBodyBytes: 4 * 1024 * 1024,
  maxSessionsPerUser: 100,
  maxGetStreamsPerUser: 20,
  maxClientInfoBytes: 8 * 1024,
  maxEventsPerStream: 10_000,
  maxNameChars: 200,
  maxUriChars: 2048,
  maxSubscriptionsPerSession: 100,
});

export interface Branding {
  /** Shown in page titles and headers, the protected resource's name and (unless `server.name` is set) MCP server info. */
  name: string;
  /**
   * A same-origin path ("/static/logo.svg") or a data:image URL: pages load
   * nothing from other origins (RFC 9700 §4.2.4, SPEC AZ-22).
   */
  logoUrl: string | null;
}

export const DEFAULT_BRANDING: Readonly<Branding> = Object.freeze({ name: "Gatehouse", logoUrl: null });

/** Why a branding value cannot be used, or null. */
export function brandingProblem(branding: Branding): string | null {
  if (branding.name.trim().length === 0 || branding.name.length > 60) return "the name must have 1 to 60 characters";
  // eslint-disable-next-line no-control-regex -- control characters are what is refused
  if (/[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/.test(branding.name)) return "the name must not contain control characters";
  const logo = branding.logoUrl;
  if (logo !== null && !(/^\/(?![/\\])[\x21-\x7e]*$/.test(logo) || /^data:image\/(png|gif|jpeg|webp|svg\+xml)[;,]/.test(logo))) {
    return "the logo must be a same-origin path (/…) or a data:image URL";
  }
  return null;
}

// Paths the RFCs, MCP clients and probes expect at the root: the console may not sit on or under them.
const RESERVED_PATHS = ["/mcp", "/oauth", "/.well-known", "/healthz", "/readyz"];

/** Why a console path cannot be used, or null. RFC 3986 §2.3 unreserved characters: it goes unescaped into links and cookies. */
export function consolePathProblem(value: string): string | null {
  const reserved = RESERVED_PATHS.find((path) => value.toLowerCase() === path || value.toLowerCase().startsWith(`${path}/`));
  const problem = !value.startsWith("/") ? 'must start with "/" (such as /gatehouse), or be empty for the root'
    : value.endsWith("/") ? 'must not end with "/" (leave it empty for the root)'
    : /[?#]/.test(value) ? "must not contain a query or fragment"
    : value.includes("..") || /\/\.?(\/|$)/.test(value) ? 'must not contain "..", "." or empty segments'
    : value.length > 100 || !/^(\/[A-Za-z0-9._~-]+)+$/.test(value) ? 'must be up to 100 letters, digits, "-", ".", "_", "~" and "/"'
    : reserved ? `must not be ${reserved} or under it (${RESERVED_PATHS.join(", ")} stay at the root)` : null;
  return value === "" || problem === null ? null : `${problem}, got "${value}"`;
}

/** Any field; `mcpLimits` may name only the limits it changes. */
export type ConfigOverrides = Partial<Omit<Config, "mcpLimits">> & { mcpLimits?: Partial<McpLimits> };

/** An https origin, or http on a loopback host (OAuth 2.1 §1.5 allows only that); no path. */
export function normalizePublicUrl(raw: string, variable = "GATEHOUSE_PUBLIC_URL"): string {
  const url = secureUrl(raw, variable);
  if (/[?#]/.test(url.href) || url.username || url.password) {
    throw new ConfigError(variable, "must not contain a query, fragment or credentials");
  }
  // RFC 8414 §3.1 / RFC 9728 §3.1 would put the discovery documents under the path, which is not where we serve them.
  if (!/^\/+$/.test(url.pathname)) {
    throw new ConfigError(variable, `must be an origin without a path (such as https://mcp.example.com), got "${raw}"`);
  }
  return url.href.replace(/\/+$/, "");
}

function origins(env: Env, publicUrl: string): string[] {
  const values = list(env, "GATEHOUSE_ALLOWED_ORIGINS");
  if (values.length === 0) return [new URL(publicUrl).origin];
  return values.map((value) => {
    try {
      const url = new URL(value);
      if (url.origin === "null") throw new Error("opaque");
      return url.origin;
    } catch {
      throw new ConfigError("GATEHOUSE_ALLOWED_ORIGINS", `not an origin: "${value}"`);
    }
  });
}

/**
 * `host` or `host:port`, as the metadata-document fetcher compares them with
 * the client_id URL: a DNS name, an IPv4 address or a bracketed IPv6 address,
 * written in the form the URL parser gives (so `127.1` or `0x7f.0.0.1` cannot
 * mean something other than it reads). A scheme, path or wildcard is refused
 * rather than silently never matching.
 */
function cimdAllowHosts(env: Env): string[] {
  const name = "GATEHOUSE_CIMD_ALLOW_HOSTS";
  return list(env, name).map((raw) => {
    const value = raw.toLowerCase();
    const match = /^(\[[0-9a-f:.]+\]|[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?)(?::(\d{1,5}))?$/.exec(value);
    const port = match?.[2] === undefined ? 443 : Number(match[2]);
    const canonical = match && URL.canParse(`https://${match[1]}/`) && new URL(`https://${match[1]}/`).hostname === match[1];
    if (!match || !canonical || port < 1 || port > 65535) {
      throw new ConfigError(name, `expected comma-separated host or host:port entries (such as cimd.example.com, localhost:8443), got "${raw}"`);
    }
    return value;
  });
}

/**
 * Loopback only while the public URL is loopback http (the default
 * http://localhost:8787): a development server is not reachable from the
 * network by accident. Any other public URL is served behind a proxy or
 * directly, so every interface.
 */
function defaultHost(publicUrl: string): string {
  const url = new URL(publicUrl);
  if (url.protocol !== "http:") return "0.0.0.0";
  return url.hostname === "[::1]" ? "::1" : "127.0.0.1";
}

export function loadConfig(env: Env = process.env, overrides: ConfigOverrides = {}): Config {
  const resolvedPort = overrides.port ?? port(env);
  const publicUrl = overrides.publicUrl
    ? normalizePublicUrl(overrides.publicUrl)
    : env.GATEHOUSE_PUBLIC_URL
      ? normalizePublicUrl(env.GATEHOUSE_PUBLIC_URL)
      : `http://localhost:${resolvedPort}`;
  const databaseUrl = overrides.databaseUrl ?? (env.DATABASE_URL || undefined);
  if (databaseUrl && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new ConfigError("DATABASE_URL", "expected a postgres:// or postgresql:// URL");
  }
  const logFormat = env.GATEHOUSE_LOG_FORMAT || "text";
  if (logFormat !== "text" && logFormat !== "json") {
    throw new ConfigError("GATEHOUSE_LOG_FORMAT", `expected text or json, got "${logFormat}"`);
  }
  const errorRedirects = env.GATEHOUSE_ERROR_REDIRECTS || "always";
  if (errorRedirects !== "always" && errorRedirects !== "trusted") {
    throw new ConfigError("GATEHOUSE_ERROR_REDIRECTS", `expected always or trusted, got "${errorRedirects}"`);
  }
  const branding: Branding = { name: env.GATEHOUSE_BRAND_NAME || DEFAULT_BRANDING.name, logoUrl: env.GATEHOUSE_BRAND_LOGO_URL || null };
  const brandingError = brandingProblem(branding);
  if (brandingError) {
    throw new ConfigError(env.GATEHOUSE_BRAND_LOGO_URL && brandingError.includes("logo") ? "GATEHOUSE_BRAND_LOGO_URL" : "GATEHOUSE_BRAND_NAME", brandingError);
  }
  const logLevel = env.GATEHOUSE_LOG_LEVEL || "info";
  if (!["debug", "info", "warn", "error", "silent"].includes(logLevel)) {
    throw new ConfigError("GATEHOUSE_LOG_LEVEL", `expected debug, info, warn, error or silent, got "${logLevel}"`);
  }
  const consolePath = overrides.consolePath ?? env.GATEHOUSE_CONSOLE_PATH ?? "", pathError = consolePathProblem(consolePath);
  if (pathError) throw new ConfigError(overrides.consolePath === undefined ? "GATEHOUSE_CONSOLE_PATH" : "consolePath", pathError);
  return {
    port: resolvedPort,
    host: env.HOST || defaultHost(publicUrl),
    publicUrl,
    databaseUrl,
    dataDir: path.resolve(env.GATEHOUSE_DATA_DIR || "./data"),
    accessTokenTtlMs: duration(env, "GATEHOUSE_ACCESS_TOKEN_TTL", "1h"),
    refreshTokenTtlMs: duration(env, "GATEHOUSE_REFRESH_TOKEN_TTL", "90d"),
    authCodeTtlMs: duration(env, "GATEHOUSE_AUTH_CODE_TTL", "60s"),
    eventTtlMs: duration(env, "GATEHOUSE_EVENT_TTL", "1h"),
    allowedOrigins: origins(env, publicUrl),
    trustProxy: flag(env, "GATEHOUSE_TRUST_PROXY"),
    errorRedirects,
    apiKeysAtMcp: flag(env, "GATEHOUSE_API_KEYS_AT_MCP"),
    mcpJsonAnswers: flag(env, "GATEHOUSE_MCP_JSON_ANSWERS"),
    branding,
    cimdAllowHosts: cimdAllowHosts(env),
    logFormat,
    logLevel: logLevel as Config["logLevel"],
    configFile: env.GATEHOUSE_CONFIG ? path.resolve(env.GATEHOUSE_CONFIG) : undefined,
    oidc: oidcConfig(env),
    ...stripUndefined(overrides),
    ...(overrides.publicUrl ? { publicUrl } : {}),
    consolePath,
    mcpLimits: mcpLimits(env, overrides.mcpLimits ?? {}),
  };
}

/** The limits operators tune have a variable; every one can be overridden by an embedder. */
function mcpLimits(env: Env, overrides: Partial<McpLimits>): McpLimits {
  const given = stripUndefined(overrides);
  return {
    ...DEFAULT_MCP_LIMITS,
    maxSessionsPerUser: given.maxSessionsPerUser ?? count(env, "GATEHOUSE_MAX_SESSIONS_PER_USER", DEFAULT_MCP_LIMITS.maxSessionsPerUser),
    maxGetStreamsPerUser: given.maxGetStreamsPerUser ?? count(env, "GATEHOUSE_MAX_STREAMS_PER_USER", DEFAULT_MCP_LIMITS.maxGetStreamsPerUser),
    maxEventsPerStream: given.maxEventsPerStream ?? count(env, "GATEHOUSE_MAX_EVENTS_PER_STREAM", DEFAULT_MCP_LIMITS.maxEventsPerStream),
    ...given,
  };
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
