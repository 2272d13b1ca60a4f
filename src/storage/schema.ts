/**
 * The one schema, shared by PGlite and PostgreSQL. Every token column holds a
 * SHA-256 hash; plaintext never reaches the database. docs/storage.md
 * describes each table and who writes it.
 */
import { sql } from "drizzle-orm";
import { bigint, index, integer, jsonb, pgTable, text, timestamp, uniqueIndex } from "drizzle-orm/pg-core";

const createdAt = () => timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow();

export const users = pgTable(
  "users",
  {
    id: text("id").primaryKey(),
    email: text("email").notNull(),
    passwordHash: text("password_hash"),
    /**
     * Where the account was first seen when it is not a Gatehouse password
     * account: `host` (the embedding app's sign-in), with the host's own user
     * id in `subject`. Accounts are linked by (source, subject), never by
     * email, so a changed or reused email cannot take over another account.
     */
    identitySource: text("identity_source"),
    subject: text("subject"),
    /** `admin` (the first account, or `gatehouse user add --admin`) may use /admin; everyone else is `user`. */
    role: text("role").notNull().default("user"),
    /** Set while the account is disabled: no sign-in, no authorization, no API key. */
    disabledAt: timestamp("disabled_at", { withTimezone: true, mode: "date" }),
    createdAt: createdAt(),
  },
  // NULLs are distinct in a unique index: every local account (no subject) fits beside the others.
  (t) => [uniqueIndex("users_email_key").on(t.email), uniqueIndex("users_identity_key").on(t.identitySource, t.subject)],
);

export const oauthClients = pgTable(
  "oauth_clients",
  {
    clientId: text("client_id").primaryKey(),
    /** `dcr` (RFC 7591), `static` (pre-registered by `gatehouse client add`) or `cimd` (a cached Client ID Metadata Document). */
    source: text("source").notNull(),
    clientSecretHash: text("client_secret_hash"),
    clientSecretExpiresAt: timestamp("client_secret_expires_at", { withTimezone: true, mode: "date" }),
    tokenEndpointAuthMethod: text("token_endpoint_auth_method").notNull(),
    redirectUris: jsonb("redirect_uris").$type<string[]>().notNull(),
    grantTypes: jsonb("grant_types").$type<string[]>().notNull(),
    responseTypes: jsonb("response_types").$type<string[]>().notNull(),
    clientName: text("client_name"),
    /** Everything else the client registered (client_uri, logo_uri, contacts, ...), echoed back verbatim. */
    metadata: jsonb("metadata").$type<Record<string, unknown>>().notNull().default({}),
    /** SHA-256 of the canonical registration metadata: identical public re-registrations return this client. */
    metadataHash: text("metadata_hash"),
    registeredFromIp: text("registered_from_ip"),
    createdAt: createdAt(),
    lastUsedAt: timestamp("last_used_at", { withTimezone: true, mode: "date" }),
    /** For `cimd` clients: when the cached document must be fetched again. */
    refreshAfter: timestamp("refresh_after", { withTimezone: true, mode: "date" }),
  },
  (t) => [
    uniqueIndex("oauth_clients_metadata_hash_key")
      .on(t.metadataHash)
      .where(sql`${t.metadataHash} IS NOT NULL`),
    index("oauth_clients_last_used_idx").on(t.source, t.lastUsedAt),
  ],
);

/**
 * Personal API keys (`oauth_client_id` null) and MCP connections (one user's
 * grant to one client, holding the current refresh token's hash).
 */
export const userApiTokens = pgTable(
  "user_api_tokens",
  {
    id: text("id").primaryKey(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    oauthClientId: text("oauth_client_id").references(() => oauthClients.clientId, { onDelete: "cascade" }),
    name: text("name").notNull(),
    tokenHash: text("token_hash").notNull(),
    /** The refresh token this one replaced; redeemable until `token_hash` is first used. */
    previousTokenHash: text("previous_token_hash"),
    /** Increments on every rotation; a compare-and-set on it makes rotation single-winner. */
    generation: integer("generation").notNull().default(0),
    /**
     * The last refresh response, sealed under a key derived from the refresh
     * token that was presented for it: concurrent refreshes with that token
     * within the grace window get the same pair, and the database alone can
     * never open it.
     */
    graceResponse: text("grace_response"),
    graceUntil: timestamp("grace_until", { withTimezone: true, mode: "date" }),
    scopes: jsonb("scopes").$type<string[]>().notNull().default([]),
    resource: text("resource"),
    createdAt: createdAt(),
    lastUsedAt: timestamp("last_used_at", { withTimezone: true, mode: "date" }),
    rotatedAt: timestamp("rotated_at", { withTimezone: true, mode: "date" }),
    expiresAt: timestamp("expires_at", { withTimezone: true, mode: "date" }),
  },
  (t) => [
    uniqueIndex("user_api_tokens_token_hash_key").on(t.tokenHash),
    index("user_api_tokens_previous_token_hash_idx").on(t.previousTokenHash),
    index("user_api_tokens_user_idx").on(t.userId),
    // PRODUCT §6: one live connection per (user, client).
    uniqueIndex("user_api_tokens_connection_key")
      .on(t.userId, t.oauthClientId)
      .where(sql`${t.oauthClientId} IS NOT NULL`),
  ],
);

export const oauthAccessTokens = pgTable(
  "oauth_access_tokens",
  {
    tokenHash: text("token_hash").primaryKey(),
    connectionId: text("connection_id")
      .notNull()
      .references(() => userApiTokens.id, { onDelete: "cascade" }),
    userId: text("user_id").notNull(),
    clientId: text("client_id").notNull(),
    scopes: jsonb("scopes").$type<string[]>().notNull(),
    resource: text("resource").notNull(),
    createdAt: createdAt(),
    expiresAt: timestamp("expires_at", { withTimezone: true, mode: "date" }).notNull(),
  },
  (t) => [
    index("oauth_access_tokens_connection_idx").on(t.connectionId),
    index("oauth_access_tokens_expires_idx").on(t.expiresAt),
  ],
);

/** Server-side console sign-in sessions; the cookie holds a token whose hash is the id. */
export const consoleSessions = pgTable(
  "console_sessions",
  {
    idHash: text("id_hash").primaryKey(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    csrfSecret: text("csrf_secret").notNull(),
    createdAt: createdAt(),
    expiresAt: timestamp("expires_at", { withTimezone: true, mode: "date" }).notNull(),
  },
  (t) => [index("console_sessions_user_idx").on(t.userId), index("console_sessions_expires_idx").on(t.expiresAt)],
);

/** Legacy (2025) Streamable HTTP sessions, bound to the user and client that created them. */
export const mcpSessions = pgTable(
  "mcp_sessions",
  {
    id: text("id").primaryKey(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    clientId: text("client_id").notNull(),
    protocolVersion: text("protocol_version").notNull(),
    clientInfo: jsonb("client_info").$type<Record<string, unknown>>().notNull().default({}),
    clientCapabilities: jsonb("client_capabilities").$type<Record<string, unknown>>().notNull().default({}),
    createdAt: createdAt(),
    lastSeenAt: timestamp("last_seen_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    expiresAt: timestamp("expires_at", { withTimezone: true, mode: "date" }).notNull(),
  },
  (t) => [index("mcp_sessions_user_client_idx").on(t.userId, t.clientId), index("mcp_sessions_expires_idx").on(t.expiresAt)],
);

/**
 * The flat, Redis-shaped key space. `expires_at` is epoch milliseconds so
 * expiry is decided by the injected clock, not the database's.
 */
export const kvStoreEntries = pgTable(
  "kv_store_entries",
  {
    key: text("key").primaryKey(),
    value: text("value").notNull(),
    expiresAt: bigint("expires_at", { mode: "number" }),
  },
  (t) => [
    index("kv_store_entries_key_pattern_idx").using("btree", t.key.op("text_pattern_ops")),
    index("kv_store_entries_expires_idx").on(t.expiresAt),
  ],
);

/**
 * Refresh tokens that were rotated away from. Presenting one again is reuse
 * (RFC 9700 §4.14.2) and revokes the whole connection. Rows go with their
 * connection, and are swept after the refresh-token lifetime.
 */
export const oauthRetiredRefreshTokens = pgTable(
  "oauth_retired_refresh_tokens",
  {
    tokenHash: text("token_hash").primaryKey(),
    connectionId: text("connection_id")
      .notNull()
      .references(() => userApiTokens.id, { onDelete: "cascade" }),
    retiredAt: timestamp("retired_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (t) => [index("oauth_retired_refresh_tokens_connection_idx").on(t.connectionId), index("oauth_retired_refresh_tokens_retired_idx").on(t.retiredAt)],
);

/** Counters for rate-limiter-flexible's Drizzle store: limits hold across nodes. */
export const rateLimits = pgTable("rate_limits", {
  key: text("key").primaryKey(),
  points: integer("points").notNull().default(0),
  expire: timestamp("expire", { withTimezone: true, mode: "date" }),
});
