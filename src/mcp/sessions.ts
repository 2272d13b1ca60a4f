/**
 * Legacy (2025) MCP sessions, stored so that any node can serve any of them.
 * A session belongs to the user and client that created it — not to a token:
 * refreshing the token keeps it; another user presenting its id finds nothing.
 */
import { and, asc, count, eq, gt, lt } from "drizzle-orm";
import type { Clock } from "../clock.js";
import type { Db } from "../storage/db.js";
import { mcpSessions } from "../storage/schema.js";

export const SESSION_IDLE_TTL_MS = 24 * 60 * 60 * 1000;
/** Sliding expiry is written at most this often, so busy sessions do not write on every request. */
const TOUCH_EVERY_MS = 60_000;

export interface StoredSession {
  id: string;
  userId: string;
  clientId: string;
  protocolVersion: string;
  clientInfo: Record<string, unknown>;
  clientCapabilities: Record<string, unknown>;
  lastSeenAt: number;
}

export class McpSessionStore {
  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
  ) {}

  async create(session: Omit<StoredSession, "lastSeenAt">): Promise<void> {
    const now = this.clock.now();
    await this.db.insert(mcpSessions).values({
      ...session,
      createdAt: new Date(now),
      lastSeenAt: new Date(now),
      expiresAt: new Date(now + SESSION_IDLE_TTL_MS),
    });
  }

  /** The session, only if it is live and belongs to this user and client. */
  async find(id: string, owner: { userId: string; clientId: string }): Promise<StoredSession | null> {
    if (id.length > 200) return null;
    const [row] = await this.db.select().from(mcpSessions).where(eq(mcpSessions.id, id));
    if (!row || row.expiresAt.getTime() <= this.clock.now()) return null;
    if (row.userId !== owner.userId || row.clientId !== owner.clientId) return null;
    return {
      id: row.id,
      userId: row.userId,
      clientId: row.clientId,
      protocolVersion: row.protocolVersion,
      clientInfo: row.clientInfo,
      clientCapabilities: row.clientCapabilities,
      lastSeenAt: row.lastSeenAt.getTime(),
    };
  }

  /** How many live sessions the user has, over all clients (the per-user cap counts these). */
  async countFor(userId: string): Promise<number> {
    const [row] = await this.db
      .select({ n: count() })
      .from(mcpSessions)
      .where(and(eq(mcpSessions.userId, userId), gt(mcpSessions.expiresAt, new Date(this.clock.now()))));
    return row?.n ?? 0;
  }

  /** The user's live session ids, least recently used first: the order the per-user cap evicts in. */
  async leastRecentlyUsed(userId: string): Promise<string[]> {
    const rows = await this.db
      .select({ id: mcpSessions.id })
      .from(mcpSessions)
      .where(and(eq(mcpSessions.userId, userId), gt(mcpSessions.expiresAt, new Date(this.clock.now()))))
      .orderBy(asc(mcpSessions.lastSeenAt), asc(mcpSessions.createdAt));
    return rows.map((r) => r.id);
  }

  async touch(session: StoredSession): Promise<void> {
    const now = this.clock.now();
    if (now - session.lastSeenAt < TOUCH_EVERY_MS) return;
    session.lastSeenAt = now;
    await this.db
      .update(mcpSessions)
      .set({ lastSeenAt: new Date(now), expiresAt: new Date(now + SESSION_IDLE_TTL_MS) })
      .where(eq(mcpSessions.id, session.id));
  }

  async delete(id: string): Promise<boolean> {
    const rows = await this.db.delete(mcpSessions).where(eq(mcpSessions.id, id)).returning({ id: mcpSessions.id });
    return rows.length > 0;
  }

  /** Ends every session of a (user, client): the connection was revoked. Returns their ids. */
  async deleteFor(userId: string, clientId: string): Promise<string[]> {
    const rows = await this.db
      .delete(mcpSessions)
      .where(and(eq(mcpSessions.userId, userId), eq(mcpSessions.clientId, clientId)))
      .returning({ id: mcpSessions.id });
    return rows.map((r) => r.id);
  }

  /** Ends every session of a user: the account was disabled. */
  async deleteAllFor(userId: string): Promise<string[]> {
    const rows = await this.db.delete(mcpSessions).where(eq(mcpSessions.userId, userId)).returning({ id: mcpSessions.id });
    return rows.map((r) => r.id);
  }

  async sweep(): Promise<number> {
    const rows = await this.db
      .delete(mcpSessions)
      .where(lt(mcpSessions.expiresAt, new Date(this.clock.now())))
      .returning({ id: mcpSessions.id });
    return rows.length;
  }
}
