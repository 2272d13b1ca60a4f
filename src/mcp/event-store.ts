/**
 * Resumability for legacy (2025) sessions: every server-to-client SSE
 * message is stored in the KV store under
 * `mcp:event:<session>:<stream>:<position>` before it is sent (priming
 * events, which carry no message, ride along with the next write).
 *
 * `<position>` is fixed-width and sorts bytewise in write order: the
 * millisecond, a per-process counter that keeps order within one
 * millisecond, and the node id so two processes never collide. Replay is a
 * cursor scan from the given position, page by page, so any number of events
 * comes back whole and in order — after a restart or on another node. The
 * event id the client sees is `<stream>.<position>`; it is resolved only
 * within the session that owns this store, so an id from another session
 * replays nothing.
 */
import type { EventId, EventStore, JSONRPCMessage, StreamId } from "@modelcontextprotocol/server";
import type { Clock } from "../clock.js";
import type { KvStore } from "../storage/kv/kv.js";

const POSITION_LENGTH = 13 + 6 + 8;
const REPLAY_PAGE = 500;

/** Allocates strictly increasing positions within this process, whatever the clock does. */
export class PositionAllocator {
  private lastMs = 0;
  private counter = 0;
  constructor(
    private readonly clock: Clock,
    private readonly nodeId: string,
  ) {
    if (!/^[0-9a-z]{8}$/.test(nodeId)) throw new Error("nodeId must be 8 lowercase alphanumerics");
  }

  next(): string {
    const now = Math.max(this.clock.now(), this.lastMs);
    if (now === this.lastMs) {
      this.counter++;
      if (this.counter > 999_999) {
        this.lastMs = now + 1;
        this.counter = 0;
      }
    } else {
      this.lastMs = now;
      this.counter = 0;
    }
    return `${String(this.lastMs).padStart(13, "0")}${String(this.counter).padStart(6, "0")}${this.nodeId}`;
  }
}

export function parseEventId(eventId: string): { streamId: string; position: string } | null {
  // Fixed-width parse from the right: stream ids may contain any character (THREATS 48).
  if (eventId.length < POSITION_LENGTH + 2 || eventId.length > 512) return null;
  const position = eventId.slice(-POSITION_LENGTH);
  if (!/^\d{19}[0-9a-z]{8}$/.test(position) || eventId[eventId.length - POSITION_LENGTH - 1] !== ".") return null;
  return { streamId: eventId.slice(0, -POSITION_LENGTH - 1), position };
}

interface PendingWrite {
  key: string;
  value: string;
  /** Absent for priming events: nobody waits for them. */
  done?: { resolve(): void; reject(error: unknown): void };
}

/**
 * A priming event (`{}`: an id, no message) is written with whatever the
 * stream stores next — for a quick call, its result — or after this long,
 * so a call costs one write instead of two. A client reconnects only after
 * `retry` (1 s), well after the priming id is stored.
 */
const PRIMING_FLUSH_MS = 20;

export class KvEventStore implements EventStore {
  constructor(
    private readonly kv: KvStore,
    private readonly sessionId: string,
    private readonly positions: PositionAllocator,
    private readonly ttlMs: number,
  ) {}

  /** Writes waiting for the one in flight: each batch is one statement, batches go in order. */
  private queue: PendingWrite[] = [];
  private writing = false;
  private primingTimer: NodeJS.Timeout | null = null;
  /** Priming event keys queued but not yet stored, so this node can resolve them meanwhile. */
  private readonly unwritten = new Set<string>();

  private prefix(streamId: string): string {
    // Encoded, so no stream id (or session id) can extend another's prefix with a ':'.
    return `mcp:event:${encodeURIComponent(this.sessionId)}:${encodeURIComponent(streamId)}:`;
  }

  /**
   * Positions are taken in call order and batches are written (and their
   * callers resumed) in that order, so concurrent sends reach the wire in
   * the order of their positions.
   */
  storeEvent(streamId: StreamId, message: JSONRPCMessage): Promise<EventId> {
    const position = this.positions.next();
    const key = `${this.prefix(streamId)}${position}`;
    const id = `${streamId}.${position}`;
    if (Object.keys(message).length === 0) {
      this.queue.push({ key, value: "{}" });
      this.unwritten.add(key);
      this.flushPrimingSoon();
      return Promise.resolve(id);
    }
    return new Promise<EventId>((resolve, reject) => {
      this.queue.push({ key, value: JSON.stringify(message), done: { resolve: () => resolve(id), reject } });
      void this.flush();
    });
  }

  private flushPrimingSoon(): void {
    if (this.primingTimer) return;
    this.primingTimer = setTimeout(() => {
      this.primingTimer = null;
      void this.flush();
    }, PRIMING_FLUSH_MS);
    this.primingTimer.unref();
  }

  private async flush(): Promise<void> {
    if (this.writing || this.queue.length === 0) return;
    this.writing = true;
    if (this.primingTimer) clearTimeout(this.primingTimer);
    this.primingTimer = null;
    const batch = this.queue;
    this.queue = [];
    try {
      await this.kv.setMany(batch, { ttlMs: this.ttlMs });
      for (const write of batch) write.done?.resolve();
    } catch (error) {
      for (const write of batch) write.done?.reject(error);
    } finally {
      for (const write of batch) this.unwritten.delete(write.key);
      this.writing = false;
    }
    if (this.queue.some((write) => write.done)) await this.flush();
    else if (this.queue.length > 0) this.flushPrimingSoon();
  }

  async getStreamIdForEventId(eventId: EventId): Promise<StreamId | undefined> {
    const parsed = parseEventId(eventId);
    if (!parsed) return undefined;
    const key = `${this.prefix(parsed.streamId)}${parsed.position}`;
    if (this.unwritten.has(key)) return parsed.streamId;
    const exists = await this.kv.get(key);
    return exists === null ? undefined : parsed.streamId;
  }

  async replayEventsAfter(
    lastEventId: EventId,
    { send }: { send: (eventId: EventId, message: JSONRPCMessage) => Promise<void> },
  ): Promise<StreamId> {
    const parsed = parseEventId(lastEventId);
    if (!parsed) throw new Error("Invalid event ID format");
    const prefix = this.prefix(parsed.streamId);
    let cursor: string | null = `${prefix}${parsed.position}`;
    while (cursor !== null) {
      const page = await this.kv.scanByPrefix(prefix, { cursor, limit: REPLAY_PAGE });
      for (const entry of page.entries) {
        const message = JSON.parse(entry.value) as JSONRPCMessage;
        // Priming events are stored as `{}`: they carry an id, not a message.
        if (Object.keys(message).length === 0) continue;
        await send(`${parsed.streamId}.${entry.key.slice(prefix.length)}`, message);
      }
      cursor = page.cursor;
    }
    return parsed.streamId;
  }
}
