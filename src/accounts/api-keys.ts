/**
 * A person's credentials as the console shows them: personal API keys
 * (`user_api_tokens` rows without a client) and MCP connections (rows with
 * one). Keys are shown once and stored as hashes; they work at /api, and at
 * /mcp only when the operator opts in (GATEHOUSE_API_KEYS_AT_MCP), with the
 * scopes chosen when the key was created.
 */
import { randomUUID } from "node:crypto";
import { and, desc, eq, isNull, type SQL } from "drizzle-orm";
import type { Clock } from "../clock.js";
import { prefixedToken, sha256Hex } from "../crypto.js";
import { ApiError } from "../errors.js";
import { hasDisguisingCharacters } from "../web/text.js";
import type { Db } from "../storage/db.js";
import { oauthClients, userApiTokens, users } from "../storage/schema.js";

export const API_KEY_PREFIX = "ghk_";

/**
 * The client a key appears as at /mcp: sessions are bound to a (user,
 * client) pair, so each key gets its own, and deleting the key ends them.
 */
export function apiKeyClientId(keyId: string): string {
  return `api_key:${keyId}`;
}

/** A key as /mcp sees it (only when keys are accepted there). */
export interface McpApiKey {
  id: string;
  userId: string;
  email: string;
  name: string;
  scopes: string[];
  expiresAt: number | null;
}

export interface CredentialView {
  id: string;
  kind: "api_key" | "mcp";
  name: string;
  client: { id: string; name: string | null } | null;
  scopes: string[];
  createdAt: string;
  lastUsedAt: string | null;
  expiresAt: string | null;
}

/** The name a key is stored under, or `invalid_name`. */
export function checkKeyName(name: string): string {
  const clean = name.trim();
  if (clean.length === 0 || clean.length > 100) throw new ApiError(400, "invalid_name", "The name must have 1 to 100 characters.");
  if (hasDisguisingCharacters(clean)) {
    throw new ApiError(400, "invalid_name", "The name must not contain control characters or invisible text-direction marks.");
  }
  return clean;
}

export class ApiKeyStore {
  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
  ) {}

  /** `scopes` matter only at /mcp (GATEHOUSE_API_KEYS_AT_MCP); the caller checks they exist. */
  async create(userId: string, name: string, scopes: readonly string[] = []): Promise<{ key: CredentialView; token: string }> {
    const clean = checkKeyName(name);
    const token = prefixedToken(API_KEY_PREFIX);
    const [row] = await this.db
      .insert(userApiTokens)
      .values({ id: randomUUID(), userId, name: clean, tokenHash: sha256Hex(token), scopes: [...scopes], createdAt: new Date(this.clock.now()) })
      .returning();
    return { key: view({ ...row!, clientName: null }), token };
  }

  async list(userId: string): Promise<CredentialView[]> {
    const rows = await this.select(eq(userApiTokens.userId, userId)).orderBy(desc(userApiTokens.createdAt));
    return rows.map((r) => view({ ...r.token, clientName: r.clientName }));
  }

  /** One key or connection of this user, or null. */
  async find(userId: string, id: string): Promise<CredentialView | null> {
    const [row] = await this.select(and(eq(userApiTokens.userId, userId), eq(userApiTokens.id, id)));
    return row ? view({ ...row.token, clientName: row.clientName }) : null;
  }

  private select(where: SQL | undefined) {
    return this.db
      .select({ token: userApiTokens, clientName: oauthClients.clientName })
      .from(userApiTokens)
      .leftJoin(oauthClients, eq(oauthClients.clientId, userApiTokens.oauthClientId))
      .where(where);
  }

  /** Deletes a personal API key of this user; connections go through ConnectionStore.revoke. */
  async deleteKey(userId: string, id: string): Promise<boolean> {
    const rows = await this.db
      .delete(userApiTokens)
      .where(and(eq(userApiTokens.id, id), eq(userApiTokens.userId, userId), isNull(userApiTokens.oauthClientId)))
      .returning({ id: userApiTokens.id });
    return rows.length > 0;
  }

  /**
   * A personal API key presented at /mcp. Not cached: deleting a key stops it
   * on every node at once. Its use is recorded by /mcp's last-used batching.
   */
  async verifyForMcp(token: string): Promise<McpApiKey | null> {
    if (!token.startsWith(API_KEY_PREFIX) || token.length > 200) return null;
    const [row] = await this.db
      .select({ token: userApiTokens, email: users.email })
      .from(userApiTokens)
      .innerJoin(users, eq(users.id, userApiTokens.userId))
      .where(and(eq(userApiTokens.tokenHash, sha256Hex(token)), isNull(userApiTokens.oauthClientId), isNull(users.disabledAt)));
    if (!row || (row.token.expiresAt && row.token.expiresAt.getTime() <= this.clock.now())) return null;
    const { id, userId, name, scopes, expiresAt } = row.token;
    return { id, userId, email: row.email, name, scopes, expiresAt: expiresAt?.getTime() ?? null };
  }

  /** The user a personal API key belongs to; MCP access and refresh tokens never match (kinds never cross). */
  async verify(token: string): Promise<{ userId: string; email: string } | null> {
    if (!token.startsWith(API_KEY_PREFIX) || token.length > 200) return null;
    const [row] = await this.db
      .select({ id: userApiTokens.id, userId: userApiTokens.userId, email: users.email, expiresAt: userApiTokens.expiresAt })
      .from(userApiTokens)
      .innerJoin(users, eq(users.id, userApiTokens.userId))
      .where(and(eq(userApiTokens.tokenHash, sha256Hex(token)), isNull(userApiTokens.oauthClientId), isNull(users.disabledAt)));
    if (!row || (row.expiresAt && row.expiresAt.getTime() <= this.clock.now())) return null;
    await this.db.update(userApiTokens).set({ lastUsedAt: new Date(this.clock.now()) }).where(eq(userApiTokens.id, row.id));
    return { userId: row.userId, email: row.email };
  }
}

function view(row: typeof userApiTokens.$inferSelect & { clientName: string | null }): CredentialView {
  return {
    id: row.id,
    kind: row.oauthClientId ? "mcp" : "api_key",
    name: row.name,
    client: row.oauthClientId ? { id: row.oauthClientId, name: row.clientName } : null,
    scopes: row.scopes,
    createdAt: row.createdAt.toISOString(),
    lastUsedAt: row.lastUsedAt?.toISOString() ?? null,
    expiresAt: row.expiresAt?.toISOString() ?? null,
  };
}
