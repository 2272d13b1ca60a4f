/**
 * The `oidc` identity source's variables (README "Identity sources"),
 * read by `loadConfig` from the environment it was given.
 */
import { ConfigError, list, secureUrl, type Env } from "./config-values.js";

/** The `oidc` identity source's settings (README "Identity sources"). */
export interface OidcConfig {
  /** The provider's issuer identifier, exactly as its discovery document states it. */
  issuer: string;
  clientId: string;
  /** Absent: a public client (PKCE only, no client authentication). */
  clientSecret?: string | undefined;
  /** Lower-cased email domains allowed to sign in; empty → any. */
  allowedDomains: string[];
  /** The ID token claim holding the user's groups (default `groups`). */
  groupsClaim: string;
  /** Groups of which a user must be in at least one; empty → no group check. */
  allowedGroups: string[];
}

const OIDC_VARIABLES = [
  "GATEHOUSE_OIDC_ISSUER", "GATEHOUSE_OIDC_CLIENT_ID", "GATEHOUSE_OIDC_CLIENT_SECRET",
  "GATEHOUSE_OIDC_ALLOWED_DOMAINS", "GATEHOUSE_OIDC_GROUPS_CLAIM", "GATEHOUSE_OIDC_ALLOWED_GROUPS",
];

/**
 * GATEHOUSE_IDENTITY picks the identity source explicitly: OIDC variables
 * without it are an error rather than silently ignored (or silently switching
 * a running install away from its passwords).
 */
export function oidcConfig(env: Env): OidcConfig | undefined {
  const identity = env.GATEHOUSE_IDENTITY || "local";
  if (identity !== "local" && identity !== "oidc") {
    throw new ConfigError("GATEHOUSE_IDENTITY", `expected local or oidc, got "${identity}"`);
  }
  if (identity === "local") {
    const stray = OIDC_VARIABLES.find((name) => env[name]);
    if (stray) throw new ConfigError(stray, "is set but GATEHOUSE_IDENTITY is not oidc: set GATEHOUSE_IDENTITY=oidc to sign in with the provider");
    return undefined;
  }
  const issuer = env.GATEHOUSE_OIDC_ISSUER;
  if (!issuer) throw new ConfigError("GATEHOUSE_OIDC_ISSUER", "is required when GATEHOUSE_IDENTITY=oidc (the provider's issuer URL)");
  const clientId = env.GATEHOUSE_OIDC_CLIENT_ID;
  if (!clientId) throw new ConfigError("GATEHOUSE_OIDC_CLIENT_ID", "is required when GATEHOUSE_IDENTITY=oidc");
  const allowedDomains = list(env, "GATEHOUSE_OIDC_ALLOWED_DOMAINS").map((domain) => domain.toLowerCase());
  const badDomain = allowedDomains.find((domain) => !/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$/.test(domain));
  if (badDomain !== undefined) {
    throw new ConfigError("GATEHOUSE_OIDC_ALLOWED_DOMAINS", `expected comma-separated email domains (such as example.com), got "${badDomain}"`);
  }
  const allowedGroups = list(env, "GATEHOUSE_OIDC_ALLOWED_GROUPS");
  if (env.GATEHOUSE_OIDC_GROUPS_CLAIM && allowedGroups.length === 0) {
    throw new ConfigError("GATEHOUSE_OIDC_GROUPS_CLAIM", "has no effect without GATEHOUSE_OIDC_ALLOWED_GROUPS");
  }
  return {
    issuer: normalizeIssuer(issuer),
    clientId,
    clientSecret: env.GATEHOUSE_OIDC_CLIENT_SECRET || undefined,
    allowedDomains,
    groupsClaim: env.GATEHOUSE_OIDC_GROUPS_CLAIM || "groups",
    allowedGroups,
  };
}

/** An https issuer (http only on loopback, for development); a path is allowed (e.g. a Keycloak realm), kept as given. */
export function normalizeIssuer(raw: string, variable = "GATEHOUSE_OIDC_ISSUER"): string {
  const url = secureUrl(raw, variable);
  if (url.search || url.hash || url.username || url.password) {
    throw new ConfigError(variable, "must not contain a query, fragment or credentials");
  }
  // The issuer is compared as a string with the discovery document's: never rewritten.
  return raw;
}

