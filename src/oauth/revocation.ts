/**
 * Revocation fan-out, the one way a connection ends (PRODUCT §6): delete it
 * with its access tokens, drop them from this node's token cache before
 * answering, end its MCP sessions, and tell every other node — which drop
 * their cached tokens and close the sessions' live copies and streams.
 * Disconnect on /user, DELETE /api/tokens/:id, RFC 7009 revocation, refresh
 * reuse detection, authorization-code replay and disabling an account
 * (`revokeUser`) all call `revokeConnection`; a removed account or client
 * (`userRemoved`, `clientRemoved`) ends its connections here too.
 *
 * Both halves live here: what this node does, and what it does when another
 * node says so (the bus subscription).
 */
import type { EventBus } from "../bus/bus.js";
import type { Logger } from "../logger.js";
import type { ConnectionStore, RevokedConnection } from "./connections.js";
import type { AccessTokenCache } from "./token-cache.js";

/** Where a user's MCP sessions are stored (mcp/sessions.ts); ended here so no node can revive them. */
export interface SessionRecords {
  deleteFor(userId: string, clientId: string): Promise<unknown>;
  /** Every session of the user, whichever client or API key opened it. */
  deleteAllFor(userId: string): Promise<unknown>;
}

export interface RevocationDeps {
  connections: ConnectionStore;
  tokenCache: AccessTokenCache;
  sessions: SessionRecords;
  bus: EventBus;
  logger: Logger;
}

export class Revocation {
  private readonly unsubscribe: () => void;
  private readonly unsubscribeReset: () => void;

  constructor(private readonly deps: RevocationDeps) {
    this.unsubscribe = deps.bus.subscribe((message) => {
      if (message.type === "connection-revoked") deps.tokenCache.dropConnection(message.connectionId);
      else if (message.type === "access-token-revoked") deps.tokenCache.dropToken(message.tokenHash);
      else if (message.type === "user-removed") deps.tokenCache.clear();
    });
    // Messages may have been missed: nothing cached can be trusted.
    this.unsubscribeReset = deps.bus.onReset(() => deps.tokenCache.clear());
  }

  /**
   * Ends a connection everywhere: the one entry point. `where` narrows whose
   * it may be (a user on /user, a client at /oauth/revoke); null when there
   * was no such connection.
   */
  async revokeConnection(
    connectionId: string,
    where: { userId?: string; clientId?: string } = {},
    reason: "revoked" | "reuse" = "revoked",
  ): Promise<RevokedConnection | null> {
    const gone = await this.deps.connections.revoke(connectionId, where);
    if (!gone) return null;
    const revoked = { ...gone, reason };
    await this.fanOut(revoked);
    return revoked;
  }

  /**
   * Connections a new authorization of the same user and client replaced
   * (already deleted in its transaction): their tokens die, their sessions
   * live on with the new connection (PRODUCT §6).
   */
  async replaced(connectionIds: readonly string[], owner: { userId: string; clientId: string }): Promise<void> {
    for (const connectionId of connectionIds) await this.fanOut({ connectionId, ...owner, reason: "replaced" });
  }

  /**
   * A personal API key was deleted (accounts/api-keys.ts). Keys are never
   * cached, so only the sessions a key opened at /mcp (as `clientId`, when
   * keys are accepted there) are left to end, on every node.
   */
  async apiKeyDeleted(key: { keyId: string; userId: string; clientId: string }): Promise<void> {
    await this.fanOut({ connectionId: key.keyId, userId: key.userId, clientId: key.clientId, reason: "revoked" });
  }

  /**
   * An account was deleted (its connections went with it, by cascade): this
   * node forgets every cached token before answering — the cache is not
   * indexed by user — and every node does the same and closes the user's
   * live sessions and streams.
   */
  async userRemoved(userId: string): Promise<void> {
    this.deps.tokenCache.clear();
    await this.tell({ type: "user-removed", userId });
  }

  /**
   * A disabled account: every connection of the user ends everywhere, one by
   * one through `revokeConnection`; then every session left — those its
   * personal API keys opened at /mcp — closes on every node, streams
   * included (the keys themselves are refused while the account is
   * disabled). Returns how many connections ended.
   */
  async revokeUser(userId: string): Promise<number> {
    let ended = 0;
    for (const connectionId of await this.deps.connections.idsOf({ userId })) {
      if (await this.revokeConnection(connectionId, { userId })) ended++;
    }
    try {
      await this.deps.sessions.deleteAllFor(userId);
    } catch (error) {
      this.deps.logger.error("ending the sessions of a disabled user failed", { error });
    }
    await this.tell({ type: "user-disabled", userId });
    return ended;
  }

  /**
   * A client registration was deleted with its connections (one transaction,
   * oauth/static-clients.ts `removeClient`): their tokens and sessions end
   * here and on every node, as for any revoked connection.
   */
  async clientRemoved(connections: readonly { connectionId: string; userId: string; clientId: string }[]): Promise<void> {
    for (const connection of connections) await this.fanOut({ ...connection, reason: "revoked" });
  }

  /** RFC 7009 §2.1: revoking an access token revokes only it. */
  async revokeAccessToken(token: string, clientId: string): Promise<boolean> {
    const tokenHash = await this.deps.connections.revokeAccessToken(token, clientId);
    if (!tokenHash) return false;
    this.deps.tokenCache.dropToken(tokenHash);
    await this.tell({ type: "access-token-revoked", tokenHash });
    return true;
  }

  private async fanOut(revoked: RevokedConnection): Promise<void> {
    // This node stops honouring the connection's tokens before the revocation is answered; others within bus latency.
    this.deps.tokenCache.dropConnection(revoked.connectionId);
    const closeSessions = revoked.reason !== "replaced";
    try {
      if (closeSessions) await this.deps.sessions.deleteFor(revoked.userId, revoked.clientId);
    } catch (error) {
      this.deps.logger.error("ending the sessions of a revoked connection failed", { error });
    }
    await this.tell({ type: "connection-revoked", ...revoked, closeSessions });
  }

  /** The revocation itself is done: a failed broadcast is logged, never turned into an error for the caller. */
  private async tell(message: Parameters<EventBus["publish"]>[0]): Promise<void> {
    await this.deps.bus.publish(message).catch((error: unknown) => this.deps.logger.error("revocation broadcast failed", { error }));
  }

  close(): void {
    this.unsubscribe();
    this.unsubscribeReset();
  }
}
