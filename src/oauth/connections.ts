/**
 * Connections: one user's grant to one client (a `user_api_tokens` row with
 * `oauth_client_id` set), holding the hash of the current refresh token;
 * access tokens hang off it. Every state change is one transaction on the
 * connection row, locked FOR UPDATE, so concurrent refreshes, revocations and
 * re-authorizations serialize on the database, on any number of nodes.
 *
 * Rotation (PRODUCT §6, RFC 9700 §4.14.2):
 * - presenting the current token rotates it: previous ← current, current ← new;
 *   the response is sealed under the presented token and kept 30 s, so
 *   concurrent refreshes with that token get the same pair;
 * - presenting the previous token (the new one was never used) replays that
 *   response inside the grace window, or rotates again after it — a lost
 *   response never locks a user out;
 * - presenting any older token (recorded in oauth_retired_refresh_tokens)
 *   revokes the whole connection.
 */
import { and, eq, isNotNull, isNull, lt, or, sql } from "drizzle-orm";
import type { Clock } from "../clock.js";
import { open, prefixedToken, seal, sha256Hex } from "../crypto.js";
import type { Db } from "../storage/db.js";
import { oauthAccessTokens, oauthClients, oauthRetiredRefreshTokens, userApiTokens, users } from "../storage/schema.js";
import { OAuthError } from "./errors.js";
import { narrowScopes, scopeString } from "./policy.js";

export const REFRESH_GRACE_MS = 30_000;
export const ACCESS_TOKEN_PREFIX = "gha_";
export const REFRESH_TOKEN_PREFIX = "ghr_";

export interface TokenResponse {
  access_token: string;
  token_type: "Bearer";
  expires_in: number;
  refresh_token: string;
  scope: string;
}

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

export interface RevokedConnection {
  connectionId: string;
  userId: string;
  clientId: string;
  /** `replaced` when a new authorization of the same user and client took its place: sessions live on. */
  reason: "revoked" | "replaced" | "reuse";
}

export interface ConnectionStoreDeps {
  db: Db;
  clock: Clock;
  accessTokenTtlMs: number;
  refreshTokenTtlMs: number;
  /** Called after a connection is gone (revoked, replaced, reuse detected): sessions close, caches drop it. */
  onRevoked?: (revoked: RevokedConnection) => void;
  /** Called after a single access token is revoked (RFC 7009), with its hash. */
  onAccessTokenRevoked?: (tokenHash: string) => void;
}

type Tx = Parameters<Parameters<Db["transaction"]>[0]>[0];
type ConnectionRow = typeof userApiTokens.$inferSelect;

interface GracePayload {
  response: TokenResponse;
  scope: string;
  resource: string;
}

const GRACE_CONTEXT = "gatehouse refresh grace v1";

type RefreshOutcome =
  | { response: TokenResponse }
  | { revoked: RevokedConnection }
  | { error: string; code?: "invalid_grant" | "invalid_target" };

/** PRODUCT §6: a client registration goes when no connection uses it any more (an operator's static one stays). */
async function removeClientIfUnused(tx: Tx, clientId: string): Promise<void> {
  await tx.execute(sql`DELETE FROM oauth_clients c WHERE c.client_id = ${clientId} AND c.source <> 'static'
    AND NOT EXISTS (SELECT 1 FROM user_api_tokens t WHERE t.oauth_client_id = c.client_id)`);
}

export class ConnectionStore {
  constructor(private readonly deps: ConnectionStoreDeps) {}

  private now(): Date {
    return new Date(this.deps.clock.now());
  }

  private async issueAccessToken(tx: Tx, row: ConnectionRow, scopes: string[], refreshToken: string): Promise<TokenResponse> {
    const accessToken = prefixedToken(ACCESS_TOKEN_PREFIX);
    const now = this.deps.clock.now();
    await tx.insert(oauthAccessTokens).values({
      tokenHash: sha256Hex(accessToken),
      connectionId: row.id,
      userId: row.userId,
      clientId: row.oauthClientId!,
      scopes,
      resource: row.resource!,
      createdAt: new Date(now),
      expiresAt: new Date(now + this.deps.accessTokenTtlMs),
    });
    return {
      access_token: accessToken,
      token_type: "Bearer",
      expires_in: Math.floor(this.deps.accessTokenTtlMs / 1000),
      refresh_token: refreshToken,
      scope: scopeString(scopes),
    };
  }

  /**
   * A new authorization: replaces this user's previous connection to this
   * client (and nobody else's) and issues the first token pair.
   */
  async create(input: {
    connectionId: string;
    userId: string;
    clientId: string;
    name: string;
    scopes: string[];
    resource: string;
  }): Promise<TokenResponse> {
    const { response, replaced } = await this.deps.db.transaction(async (tx) => {
      // PRODUCT §6: one live connection per (user, client). Concurrent authorizations of the same pair take
      // turns, so each replaces the one before instead of colliding on the unique index.
      await tx.execute(sql`SELECT pg_advisory_xact_lock(hashtextextended(${`connection:${input.userId}:${input.clientId}`}, 0))`);
      const replaced = await tx
        .delete(userApiTokens)
        .where(and(eq(userApiTokens.userId, input.userId), eq(userApiTokens.oauthClientId, input.clientId)))
        .returning({ id: userApiTokens.id });
      const refreshToken = prefixedToken(REFRESH_TOKEN_PREFIX);
      const now = this.now();
      const [row] = await tx
        .insert(userApiTokens)
        .values({
          id: input.connectionId,
          userId: input.userId,
          oauthClientId: input.clientId,
          name: input.name,
          tokenHash: sha256Hex(refreshToken),
          scopes: input.scopes,
          resource: input.resource,
          createdAt: now,
          lastUsedAt: now,
          expiresAt: new Date(now.getTime() + this.deps.refreshTokenTtlMs),
        })
        .returning();
      return { response: await this.issueAccessToken(tx, row!, input.scopes, refreshToken), replaced };
    });
    for (const { id } of replaced) {
      this.deps.onRevoked?.({ connectionId: id, userId: input.userId, clientId: input.clientId, reason: "replaced" });
    }
    return response;
  }

  async refresh(input: { refreshToken: string; clientId: string; scopes: string[]; resource: string }): Promise<TokenResponse> {
    const hash = sha256Hex(input.refreshToken);
    const outcome = await this.deps.db.transaction(async (tx): Promise<RefreshOutcome> => {
      const [row] = await tx
        .select()
        .from(userApiTokens)
        .where(
          and(
            isNotNull(userApiTokens.oauthClientId),
            or(eq(userApiTokens.tokenHash, hash), eq(userApiTokens.previousTokenHash, hash)),
          ),
        )
        .for("update");
      if (!row) return this.detectReuse(tx, hash, input.clientId);
      // OAuth 2.1 §4.3.1: the token is bound to the client it was issued to. Not reuse: nothing is revoked.
      if (row.oauthClientId !== input.clientId) return { error: "The refresh token was not issued to this client." };
      if (row.expiresAt && row.expiresAt.getTime() <= this.deps.clock.now()) {
        return { error: "The refresh token has expired." };
      }
      if (input.resource !== row.resource) {
        return { error: "The resource does not match the grant.", code: "invalid_target" };
      }
      const scopes = narrowScopes(row.scopes, input.scopes);
      const request = { scope: scopeString(scopes), resource: input.resource };
      if (row.previousTokenHash === hash) {
        const replay = this.replayGrace(row, input.refreshToken, request);
        if (replay) return replay;
        if (row.graceUntil && row.graceUntil.getTime() > this.deps.clock.now()) {
          // THREATS 18: a concurrent refresh asking for something else is refused, without revoking.
          return { error: "A concurrent refresh with different parameters is in progress." };
        }
      }
      return { response: await this.rotate(tx, row, hash, input.refreshToken, scopes, request) };
    });
    if ("revoked" in outcome) {
      this.deps.onRevoked?.(outcome.revoked);
      throw new OAuthError("invalid_grant", "The refresh token was already used; the connection has been revoked.");
    }
    if ("error" in outcome) {
      throw new OAuthError(outcome.code ?? "invalid_grant", outcome.error);
    }
    return outcome.response;
  }

  private replayGrace(row: ConnectionRow, presented: string, request: { scope: string; resource: string }): RefreshOutcome | null {
    if (!row.graceResponse || !row.graceUntil || row.graceUntil.getTime() <= this.deps.clock.now()) return null;
    const opened = open(presented, GRACE_CONTEXT, row.graceResponse);
    if (!opened) return null;
    const payload = JSON.parse(opened) as GracePayload;
    if (payload.scope !== request.scope || payload.resource !== request.resource) return null;
    return { response: payload.response };
  }

  private async rotate(
    tx: Tx,
    row: ConnectionRow,
    presentedHash: string,
    presented: string,
    scopes: string[],
    request: { scope: string; resource: string },
  ): Promise<TokenResponse> {
    const now = this.now();
    // The token being displaced becomes "older": presenting it later is reuse.
    const displaced = row.tokenHash === presentedHash ? row.previousTokenHash : row.tokenHash;
    if (displaced) {
      await tx
        .insert(oauthRetiredRefreshTokens)
        .values({ tokenHash: displaced, connectionId: row.id, retiredAt: now })
        .onConflictDoNothing();
    }
    const refreshToken = prefixedToken(REFRESH_TOKEN_PREFIX);
    const response = await this.issueAccessToken(tx, row, scopes, refreshToken);
    const payload: GracePayload = { response, ...request };
    await tx
      .update(userApiTokens)
      .set({
        tokenHash: sha256Hex(refreshToken),
        previousTokenHash: presentedHash,
        generation: row.generation + 1,
        graceResponse: seal(presented, GRACE_CONTEXT, JSON.stringify(payload)),
        graceUntil: new Date(now.getTime() + REFRESH_GRACE_MS),
        rotatedAt: now,
        lastUsedAt: now,
        expiresAt: new Date(now.getTime() + this.deps.refreshTokenTtlMs),
      })
      .where(and(eq(userApiTokens.id, row.id), eq(userApiTokens.generation, row.generation)));
    return response;
  }

  /** RFC 9700 §4.14.2: an already-rotated token presented again revokes the connection. */
  private async detectReuse(tx: Tx, hash: string, clientId: string): Promise<RefreshOutcome> {
    const [retired] = await tx
      .select({ connectionId: oauthRetiredRefreshTokens.connectionId })
      .from(oauthRetiredRefreshTokens)
      .where(eq(oauthRetiredRefreshTokens.tokenHash, hash));
    if (!retired) return { error: "The refresh token is invalid, expired or revoked." };
    const [gone] = await tx
      .delete(userApiTokens)
      .where(and(eq(userApiTokens.id, retired.connectionId), eq(userApiTokens.oauthClientId, clientId)))
      .returning();
    if (!gone) return { error: "The refresh token is invalid, expired or revoked." };
    await removeClientIfUnused(tx, clientId);
    return { revoked: { connectionId: gone.id, userId: gone.userId, clientId, reason: "reuse" } };
  }

  async verifyAccessToken(token: string): Promise<AccessTokenInfo | null> {
    if (!token.startsWith(ACCESS_TOKEN_PREFIX) || token.length > 200) return null;
    const [row] = await this.deps.db
      .select({
        token: oauthAccessTokens,
        userEmail: users.email,
        clientName: oauthClients.clientName,
      })
      .from(oauthAccessTokens)
      .innerJoin(users, eq(users.id, oauthAccessTokens.userId))
      .leftJoin(oauthClients, eq(oauthClients.clientId, oauthAccessTokens.clientId))
      .where(eq(oauthAccessTokens.tokenHash, sha256Hex(token)));
    if (!row || row.token.expiresAt.getTime() <= this.deps.clock.now()) return null;
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

  /**
   * Deletes a connection with all its access tokens (foreign keys cascade)
   * and, when no other connection uses the client, its registration — in
   * one transaction.
   */
  async revoke(connectionId: string, where: { userId?: string; clientId?: string } = {}): Promise<RevokedConnection | null> {
    const conditions = [eq(userApiTokens.id, connectionId), isNotNull(userApiTokens.oauthClientId)];
    if (where.userId) conditions.push(eq(userApiTokens.userId, where.userId));
    if (where.clientId) conditions.push(eq(userApiTokens.oauthClientId, where.clientId));
    const gone = await this.deps.db.transaction(async (tx) => {
      const [row] = await tx
        .delete(userApiTokens)
        .where(and(...conditions))
        .returning();
      if (row) await removeClientIfUnused(tx, row.oauthClientId!);
      return row;
    });
    if (!gone) return null;
    const revoked: RevokedConnection = { connectionId: gone.id, userId: gone.userId, clientId: gone.oauthClientId!, reason: "revoked" };
    this.deps.onRevoked?.(revoked);
    return revoked;
  }

  /** The connection a refresh token (current or previous) or an access token belongs to, if `clientId` owns it. */
  async findByToken(token: string, clientId: string): Promise<{ connectionId: string; kind: "refresh_token" | "access_token" } | null> {
    const hash = sha256Hex(token);
    const [refresh] = await this.deps.db
      .select({ id: userApiTokens.id })
      .from(userApiTokens)
      .where(
        and(
          eq(userApiTokens.oauthClientId, clientId),
          or(eq(userApiTokens.tokenHash, hash), eq(userApiTokens.previousTokenHash, hash)),
        ),
      );
    if (refresh) return { connectionId: refresh.id, kind: "refresh_token" };
    const [access] = await this.deps.db
      .select({ id: oauthAccessTokens.connectionId })
      .from(oauthAccessTokens)
      .where(and(eq(oauthAccessTokens.tokenHash, hash), eq(oauthAccessTokens.clientId, clientId)));
    return access ? { connectionId: access.id, kind: "access_token" } : null;
  }

  /** RFC 7009 §2.1: revoking an access token revokes only it. */
  async revokeAccessToken(token: string, clientId: string): Promise<boolean> {
    const rows = await this.deps.db
      .delete(oauthAccessTokens)
      .where(and(eq(oauthAccessTokens.tokenHash, sha256Hex(token)), eq(oauthAccessTokens.clientId, clientId)))
      .returning({ tokenHash: oauthAccessTokens.tokenHash });
    for (const row of rows) this.deps.onAccessTokenRevoked?.(row.tokenHash);
    return rows.length > 0;
  }

  /** Records that a connection was used (shown as "last used" on /user); never moves the time backwards. */
  async touch(connectionId: string, at: number): Promise<void> {
    await this.deps.db
      .update(userApiTokens)
      .set({ lastUsedAt: new Date(at) })
      .where(and(eq(userApiTokens.id, connectionId), or(isNull(userApiTokens.lastUsedAt), lt(userApiTokens.lastUsedAt, new Date(at)))));
  }

  /** Expired access tokens and retired refresh-token hashes older than any refresh token can live. */
  async sweep(): Promise<number> {
    const now = this.deps.clock.now();
    const access = await this.deps.db
      .delete(oauthAccessTokens)
      .where(lt(oauthAccessTokens.expiresAt, new Date(now)))
      .returning({ h: oauthAccessTokens.tokenHash });
    const retired = await this.deps.db
      .delete(oauthRetiredRefreshTokens)
      .where(lt(oauthRetiredRefreshTokens.retiredAt, new Date(now - this.deps.refreshTokenTtlMs)))
      .returning({ h: oauthRetiredRefreshTokens.tokenHash });
    return access.length + retired.length;
  }
}
