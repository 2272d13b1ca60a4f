/**
 * What one user may hold of the 2025 session transport (README "Limits"):
 *
 * - live sessions, over all their clients: clients that never send DELETE
 *   (most of them) would otherwise pile up rows for 24 h each. One more
 *   evicts the user's least recently used *idle* session — record deleted,
 *   closed on every node through the bus — so such a client keeps working;
 *   only when every one of them streams or answers a call is the
 *   initialize refused (429).
 * - open GET streams on this node, standalone and resumptions alike: each
 *   holds a socket and a live session in memory for as long as the client
 *   likes. Per session the SDK already allows one standalone stream (a
 *   second gets its 409) and one resumption per unanswered request.
 *
 * Idle is judged exactly on this node (no stream open, no call in flight)
 * and, for sessions busy on another node, by a short-lived KV mark that
 * each node's live sweep keeps fresh while a session streams or answers
 * there — one mark per node, so one node's mark never hides another's.
 */
import type { EventBus } from "../bus/bus.js";
import type { Clock } from "../clock.js";
import type { McpLimits } from "../config.js";
import type { KvStore } from "../storage/kv/kv.js";
import type { LiveSession } from "./legacy-live.js";
import type { McpSessionStore } from "./sessions.js";

/** A busy mark outlives a few live sweeps (every 5 s by default), so it stays up while it is refreshed. */
export const BUSY_MARK_TTL_MS = 30_000;
const BUSY_MARK_EVERY_MS = 10_000;

const busyPrefix = (sessionId: string) => `mcp:session-busy:${sessionId}:`;
export const busyKey = (sessionId: string, nodeId: string) => `${busyPrefix(sessionId)}${nodeId}`;

export interface SessionQuotaDeps {
  sessions: McpSessionStore;
  kv: KvStore;
  bus: EventBus;
  clock: Clock;
  nodeId: string;
  limits: McpLimits;
}

export class SessionQuota {
  private readonly getStreams = new Map<string, number>();
  private readonly marked = new Map<string, number>();

  constructor(
    private readonly deps: SessionQuotaDeps,
    private readonly live: ReadonlyMap<string, LiveSession>,
    private readonly closeHere: (sessionId: string) => Promise<void>,
  ) {}

  /**
   * Makes room for one more session of `userId` by evicting their least recently used idle sessions;
   * false when the user is at the limit and none is idle. Concurrent initializes may overshoot by
   * their number; the next one evicts back down to the limit.
   */
  async admit(userId: string): Promise<boolean> {
    const max = this.deps.limits.maxSessionsPerUser;
    let excess = (await this.deps.sessions.countFor(userId)) - max + 1;
    if (excess <= 0) return true;
    for (const id of await this.deps.sessions.leastRecentlyUsed(userId)) {
      if (await this.busy(id)) continue;
      await this.evict(id);
      if (--excess === 0) return true;
    }
    return false;
  }

  private async busy(sessionId: string): Promise<boolean> {
    const here = this.live.get(sessionId);
    if (here && (here.activeStreams > 0 || here.inflight.size > 0)) return true;
    // This node's own mark is stale by construction: its live state above is exact.
    const marks = await this.deps.kv.scanByPrefix(busyPrefix(sessionId), { limit: 20 });
    return marks.entries.some((mark) => mark.key !== busyKey(sessionId, this.deps.nodeId));
  }

  /** As DELETE does: the session is over everywhere. */
  private async evict(sessionId: string): Promise<void> {
    await this.deps.sessions.delete(sessionId);
    await this.closeHere(sessionId);
    await this.deps.bus.publish({ type: "session-closed", sessionId });
  }

  /** Marks the sessions that stream or answer on this node (one write per sweep, each at most every 10 s). */
  async markBusy(): Promise<void> {
    const now = this.deps.clock.now();
    const due = [...this.live.values()].filter(
      (l) => (l.activeStreams > 0 || l.inflight.size > 0) && now - (this.marked.get(l.id) ?? 0) >= BUSY_MARK_EVERY_MS,
    );
    for (const id of this.marked.keys()) if (!this.live.has(id)) this.marked.delete(id);
    if (due.length === 0) return;
    await this.deps.kv.setMany(
      due.map((l) => ({ key: busyKey(l.id, this.deps.nodeId), value: "1" })),
      { ttlMs: BUSY_MARK_TTL_MS },
    );
    for (const l of due) this.marked.set(l.id, now);
  }

  /** Takes one of the user's GET stream slots on this node; false when all are taken. */
  reserveGetStream(userId: string): boolean {
    const open = this.getStreams.get(userId) ?? 0;
    if (open >= this.deps.limits.maxGetStreamsPerUser) return false;
    this.getStreams.set(userId, open + 1);
    return true;
  }

  releaseGetStream(userId: string): void {
    const open = (this.getStreams.get(userId) ?? 1) - 1;
    if (open > 0) this.getStreams.set(userId, open);
    else this.getStreams.delete(userId);
  }
}
