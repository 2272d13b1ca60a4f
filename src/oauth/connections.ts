/**
 * Connections in the database: one user's grant to one client (a
 * `user_api_tokens` row with `oauth_client_id` set) holding the hash of its
 * current refresh token (and the previous one, during rotation), with access
 * tokens hanging off it. Verbs speak the domain; the rules that choose
 * between them live in the grants (grants/refresh-token.ts) and in
 * revocation.ts. Every single-use step is one conditional statement:
 * `rotate` is an UPDATE guarded by the row's generation, `revoke` a
 * DELETE … RETURNING — never read-then-write.
 */
import { and, eq, isNotNull, isNull, lt, or, sql } from "drizzle-orm";
import type { Clock } from "../clock.js";
import { sha256Hex } from "../crypto.js";
import { queryRows, type Db } from "../storage/db.js";
import { oauthAccessTokens, oauthClients, oauthRetiredRefreshTokens, userApiTokens, users } from "../storage/schema.js";
import { ACCESS_TOKEN_PREFIX, type IssuedTokens } from "./tokens.js";

export interface AccessTokenInfo {
  userId: string;
  userEmail: string;
  clientName: string | null;
  clientId: string;
  connectionId: string;
  scopes: string[];
  resource: string;
  expiresAt: number;
}

/** A connection that is gone, as every node must hear of it. */
export interface RevokedConnection {
  connectionId: string;
  userId: string;
  clientId: string;
  /** `replaced` when a new authorization of the same user and client took its place: sessions live on. */
  reason: "revoked" | "replaced" | "reuse";
}

/** A connection found by a refresh token, and which of its two tokens was presented. */
export interface RefreshableConnection {
  id: string;
  userId: string;
  clientId: string;
  scopes: string[];
  resource: string;
  expiresAt: Date | null;
  generation: number;
  presented: "current" | "previous";
  /** The hashes of the current and previous refresh tokens. */
  tokenHash: string;
  previousTokenHash: string | null;
  /** The last rotation's response, sealed under the token it rotated, and how long it may be replayed. */
  graceResponse: string | null;
  graceUntil: Date | null;
}

type Tx = Parameters<Parameters<Db["transaction"]>[0]>[0];

export class ConnectionStore {
  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
  ) {}

  private async insertAccessToken(tx: Tx, connection: { id: string; userId: string; clientId: string; resource: string }, tokens: IssuedTokens) {
    await tx.insert(oauthAccessTokens).values({
      tokenHash: tokens.accessTokenHash,
      connectionId: connection.id,
      userId: connection.userId,
      clientId: connection.clientId,
      scopes: tokens.scopes,
      resource: connection.resource,
      createdAt: new Date(this.clock.now()),
      expiresAt: tokens.accessExpiresAt,
    });
  }

  /**
   * A new connection with its first token pair, replacing this user's
   * previous connection to this client (and nobody else's). Returns the ids
   * it replaced.
   */
  async connect(input: { id: string; userId: string; clientId: string; name: string; resource: string }, tokens: IssuedTokens): Promise<string[] | null> {
    return this.db.transaction(async (tx): Promise<string[] | null> => {
      // PRODUCT §6: one live connection per (user, client). Concurrent authorizations of the same pair take
      // turns, so each replaces the one before instead of colliding on the unique index.
      await tx.execute(sql`SELECT pg_advisory_xact_lock(hashtextextended(${`connection:${input.userId}:${input.clientId}`}, 0))`);
      const replaced = await tx
        .delete(userApiTokens)
        .where(and(eq(userApiTokens.userId, input.userId), eq(userApiTokens.oauthClientId, input.clientId)))
        .returning({ id: userApiTokens.id });
      const now = new Date(this.clock.now());
      // The user or the client went, or the user was disabled, between consent and redemption: nothing to
      // connect (one statement, no race: disabling waits for this lock, then revokes what it finds).
      const [owner] = await queryRows<{ ok: number }>(
        tx as unknown as Db,
        sql`SELECT 1 AS ok FROM users u, oauth_clients c
            WHERE u.id = ${input.userId} AND u.disabled_at IS NULL AND c.client_id = ${input.clientId} FOR SHARE`,
      );
      if (!owner) return null;
      await tx.insert(userApiTokens).values({
        id: input.id,
        userId: input.userId,
        oauthClientId: input.clientId,
        name: input.name,
        tokenHash: tokens.refreshTokenHash,
        scopes: tokens.scopes,
        resource: input.resource,
        createdAt: now,
        lastUsedAt: now,
        expiresAt: tokens.refreshExpiresAt,
      });
      await this.insertAccessToken(tx, input, tokens);
      return replaced.map((row) => row.id);
    });
  }

  /** The connection whose current or previous refresh token this is. */
  async findByRefreshToken(refreshToken: string): Promise<RefreshableConnection | null> {
    const hash = sha256Hex(refreshToken);
    const [row] = await this.db
      .select()
      .from(userApiTokens)
      .where(and(isNotNull(userApiTokens.oauthClientId), or(eq(userApiTokens.tokenHash, hash), eq(userApiTokens.previousTokenHash, hash))));
    if (!row) return null;
    return {
      id: row.id,
      userId: row.userId,
      clientId: row.oauthClientId!,
      scopes: row.scopes,
      resource: row.resource!,
      expiresAt: row.expiresAt,
      generation: row.generation,
      presented: row.tokenHash === hash ? "current" : "previous",
      tokenHash: row.tokenHash,
      previousTokenHash: row.previousTokenHash,
      graceResponse: row.graceResponse,
      graceUntil: row.graceUntil,
    };
  }

  /**
   * Rotates a connection to `tokens`: the presented token becomes the
   * previous one, the token it displaces is retired (presenting it later is
   * reuse), and the new access token is stored — all or nothing. Guarded by
   * the generation read with the connection: false when another rotation or
   * a revocation got there first, so one token never has two live successors.
   */
  async rotate(
    connection: RefreshableConnection,
    tokens: IssuedTokens,
    grace: { presentedHash: string; sealedResponse: string; until: Date },
  ): Promise<boolean> {
    const displaced = connection.presented === "current" ? connection.previousTokenHash : connection.tokenHash;
    return this.db.transaction(async (tx) => {
      const now = new Date(this.clock.now());
      const [rotated] = await tx
        .update(userApiTokens)
        .set({
          tokenHash: tokens.refreshTokenHash,
          previousTokenHash: grace.presentedHash,
          generation: connection.generation + 1,
          graceResponse: grace.sealedResponse,
          graceUntil: grace.until,
          rotatedAt: now,
          lastUsedAt: now,
          expiresAt: tokens.refreshExpiresAt,
        })
        .where(and(eq(userApiTokens.id, connection.id), eq(userApiTokens.generation, connection.generation)))
        .returning({ id: userApiTokens.id });
      if (!rotated) return false;
      if (displaced) {
        await tx.insert(oauthRetiredRefreshTokens).values({ tokenHash: displaced, connectionId: connection.id, retiredAt: now }).onConflictDoNothing();
      }
      await this.insertAccessToken(tx, connection, tokens);
      return true;
    });
  }

  /** The connection a retired (rotated-away) refresh token belonged to. */
  async findRetired(refreshToken: string): Promise<string | null> {
    const [retired] = await this.db
      .select({ connectionId: oauthRetiredRefreshTokens.connectionId })
      .from(oauthRetiredRefreshTokens)
      .where(eq(oauthRetiredRefreshTokens.tokenHash, sha256Hex(refreshToken)));
    return retired?.connectionId ?? null;
  }

  /**
   * Deletes a connection with all its access tokens (foreign keys cascade).
   * The client registration stays (PRODUCT §6): clients keep their
   * `client_id` and sign in again with it. Callers go through revocation.ts,
   * which tells the nodes.
   */
  async revoke(connectionId: string, where: { userId?: string; clientId?: string } = {}): Promise<Omit<RevokedConnection, "reason"> | null> {
    const conditions = [eq(userApiTokens.id, connectionId), isNotNull(userApiTokens.oauthClientId)];
    if (where.userId) conditions.push(eq(userApiTokens.userId, where.userId));
    if (where.clientId) conditions.push(eq(userApiTokens.oauthClientId, where.clientId));
    const [gone] = await this.db
      .delete(userApiTokens)
      .where(and(...conditions))
      .returning({ id: userApiTokens.id, userId: userApiTokens.userId, clientId: userApiTokens.oauthClientId });
    return gone ? { connectionId: gone.id, userId: gone.userId, clientId: gone.clientId! } : null;
  }

  /** The ids of the connections of one user or to one client (never personal API keys). */
  async idsOf(where: { userId: string } | { clientId: string }): Promise<string[]> {
    const owner = "userId" in where ? eq(userApiTokens.userId, where.userId) : eq(userApiTokens.oauthClientId, where.clientId);
    const rows = await this.db
      .select({ id: userApiTokens.id })
      .from(userApiTokens)
      .where(and(owner, isNotNull(userApiTokens.oauthClientId)));
    return rows.map((r) => r.id);
  }

  /** RFC 7009 §2.1: one access token of this client, deleted; returns its hash. */
  async revokeAccessToken(token: string, clientId: string): Promise<string | null> {
    const [row] = await this.db
      .delete(oauthAccessTokens)
      .where(and(eq(oauthAccessTokens.tokenHash, sha256Hex(token)), eq(oauthAccessTokens.clientId, clientId)))
      .returning({ tokenHash: oauthAccessTokens.tokenHash });
    return row?.tokenHash ?? null;
  }

  async verifyAccessToken(token: string): Promise<AccessTokenInfo | null> {
    if (!token.startsWith(ACCESS_TOKEN_PREFIX) || token.length > 200) return null;
    const [row] = await this.db
      .select({
        token: oauthAccessTokens,
        userEmail: users.email,
        clientName: oauthClients.clientName,
      })
      .from(oauthAccessTokens)
      .innerJoin(users, eq(users.id, oauthAccessTokens.userId))
      .leftJoin(oauthClients, eq(oauthClients.clientId, oauthAccessTokens.clientId))
      .where(eq(oauthAccessTokens.tokenHash, sha256Hex(token)));
    if (!row || row.token.expiresAt.getTime() <= this.clock.now()) return null;
    return {
      userId: row.token.userId,
      userEmail: row.userEmail,
      clientName: row.clientName,
      clientId: row.token.clientId,
      connectionId: row.token.connectionId,
      scopes: row.token.scopes,
      resource: row.token.resource,
      expiresAt: row.token.expiresAt.getTime(),
    };
  }

  /** The connection a refresh token (current or previous) or an access token belongs to, if `clientId` owns it. */
  async findByToken(token: string, clientId: string): Promise<{ connectionId: string; kind: "refresh_token" | "access_token" } | null> {
    const hash = sha256Hex(token);
    const [refresh] = await this.db
      .select({ id: userApiTokens.id })
      .from(userApiTokens)
      .where(and(eq(userApiTokens.oauthClientId, clientId), or(eq(userApiTokens.tokenHash, hash), eq(userApiTokens.previousTokenHash, hash))));
    if (refresh) return { connectionId: refresh.id, kind: "refresh_token" };
    const [access] = await this.db
      .select({ id: oauthAccessTokens.connectionId })
      .from(oauthAccessTokens)
      .where(and(eq(oauthAccessTokens.tokenHash, hash), eq(oauthAccessTokens.clientId, clientId)));
    return access ? { connectionId: access.id, kind: "access_token" } : null;
  }

  /** Records that a connection was used (shown as "last used" on /user); never moves the time backwards. */
  async touch(connectionId: string, at: number): Promise<void> {
    await this.db
      .update(userApiTokens)
      .set({ lastUsedAt: new Date(at) })
      .where(and(eq(userApiTokens.id, connectionId), or(isNull(userApiTokens.lastUsedAt), lt(userApiTokens.lastUsedAt, new Date(at)))));
  }

  /** Connections whose refresh token has expired (revocation.ts ends them, so every node hears of it). */
  async findExpired(limit: number): Promise<string[]> {
    const rows = await this.db
      .select({ id: userApiTokens.id })
      .from(userApiTokens)
      .where(and(isNotNull(userApiTokens.oauthClientId), lt(userApiTokens.expiresAt, new Date(this.clock.now()))))
      .limit(limit);
    return rows.map((row) => row.id);
  }

  /** Expired access tokens, and retired refresh-token hashes older than any refresh token can live. */
  async sweep(refreshTokenTtlMs: number): Promise<number> {
    const now = this.clock.now();
    const access = await this.db
      .delete(oauthAccessTokens)
      .where(lt(oauthAccessTokens.expiresAt, new Date(now)))
      .returning({ h: oauthAccessTokens.tokenHash });
    const retired = await this.db
      .delete(oauthRetiredRefreshTokens)
      .where(lt(oauthRetiredRefreshTokens.retiredAt, new Date(now - refreshTokenTtlMs)))
      .returning({ h: oauthRetiredRefreshTokens.tokenHash });
    return access.length + retired.length;
  }
}
