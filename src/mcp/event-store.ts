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
 *
 * Retention is bounded by count as well as by TTL (SPEC-CHECKLIST RES-6):
 * a stream keeps its newest `maxEvents` events (1% more between trims),
 * and each trim records the positions it dropped under
 * `mcp:event-trim:<session>:<stream>`. A resumption from a dropped event
 * does not skip silently: the replay opens with a `notifications/message`
 * warning (carrying the client's own Last-Event-ID, so resuming again
 * says it again), then sends every event still kept. An id never stored
 * here still resolves to nothing (the SDK's 400, RES-7).
 */
import type { EventId, EventStore, JSONRPCMessage, StreamId } from "@modelcontextprotocol/server";
import type { Clock } from "../clock.js";
import type { KvStore } from "../storage/kv/kv.js";
import { EventWriter } from "./event-writer.js";

const POSITION_LENGTH = 13 + 6 + 8;
const REPLAY_PAGE = 500;
/** Streams whose writes since their last trim are counted; past this, the least written are forgotten. */
const TRACKED_STREAMS = 16;

/** A stream's writes since its last trim, and how many it may take before the next. */
interface TrimCount {
  written: number;
  due: number;
}

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
  streamId: string;
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

export interface EventRetention {
  /** Events a stream keeps besides the TTL (default 10,000). */
  maxEvents?: number;
  /** Told when trimming fails (the writes themselves have succeeded). */
  onError?: (error: unknown) => void;
  /** The node's shared writer (group commit across sessions); without one, the store has its own. */
  writer?: EventWriter;
}

/** The positions a trim dropped from a stream, oldest and newest. */
interface Dropped {
  from: string;
  to: string;
}

export class KvEventStore implements EventStore {
  private readonly maxEvents: number;
  /**
   * A stream is trimmed after this many writes (1% of its cap), or, once a trim told how many it
   * holds, when the writes since could have filled it: a stream holds at most 101% of its cap, and
   * one far below it is not scanned again and again.
   */
  private readonly trimEvery: number;
  private readonly sinceTrim = new Map<string, TrimCount>();
  /** Trims run one after another (each reads and extends the dropped range); one queued per stream. */
  private trimming: Promise<void> = Promise.resolve();
  private readonly trimQueued = new Set<string>();
  private readonly onError: (error: unknown) => void;

  constructor(
    private readonly kv: KvStore,
    private readonly sessionId: string,
    private readonly positions: PositionAllocator,
    private readonly ttlMs: number,
    retention: EventRetention = {},
  ) {
    this.maxEvents = retention.maxEvents ?? 10_000;
    this.trimEvery = Math.min(1000, Math.max(1, Math.ceil(this.maxEvents / 100)));
    this.onError = retention.onError ?? (() => {});
    this.writer = retention.writer ?? new EventWriter(kv, ttlMs);
  }

  /** Writes not yet handed to the writer, which stores batches (of any sessions) in the order they come. */
  private queue: PendingWrite[] = [];
  private readonly writer: EventWriter;
  private primingTimer: NodeJS.Timeout | null = null;
  /** Priming event keys queued but not yet stored, so this node can resolve them meanwhile. */
  private readonly unwritten = new Set<string>();

  private prefix(streamId: string): string {
    // Encoded, so no stream id (or session id) can extend another's prefix with a ':'.
    return `mcp:event:${encodeURIComponent(this.sessionId)}:${encodeURIComponent(streamId)}:`;
  }

  private droppedKey(streamId: string): string {
    return `mcp:event-trim:${encodeURIComponent(this.sessionId)}:${encodeURIComponent(streamId)}`;
  }

  /**
   * Positions are taken in call order and batches are written (and their
   * callers resumed) in that order, so concurrent sends reach the wire in
   * the order of their positions.
   */
  storeEvent(streamId: StreamId, message: JSONRPCMessage): Promise<EventId> {
    if (Object.keys(message).length === 0) return Promise.resolve(this.storePriming(streamId));
    const position = this.positions.next();
    const key = `${this.prefix(streamId)}${position}`;
    const id = `${streamId}.${position}`;
    return new Promise<EventId>((resolve, reject) => {
      this.queue.push({ streamId, key, value: JSON.stringify(message), done: { resolve: () => resolve(id), reject } });
      void this.flush();
    });
  }

  /**
   * A priming event's id, at once: it is queued, not awaited (it rides with the stream's next write), so a
   * call switching to SSE mid-flight can send it before anything else on the stream (legacy-held.ts).
   */
  storePriming(streamId: StreamId): EventId {
    const position = this.positions.next();
    const key = `${this.prefix(streamId)}${position}`;
    this.queue.push({ streamId, key, value: "{}" });
    this.unwritten.add(key);
    this.flushPrimingSoon();
    return `${streamId}.${position}`;
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
    if (this.queue.length === 0) return;
    if (this.primingTimer) clearTimeout(this.primingTimer);
    this.primingTimer = null;
    const batch = this.queue;
    this.queue = [];
    try {
      await this.writer.write(batch);
      for (const write of batch) write.done?.resolve();
      this.count(batch);
    } catch (error) {
      for (const write of batch) write.done?.reject(error);
    } finally {
      for (const write of batch) this.unwritten.delete(write.key);
    }
  }

  /** Counts the writes per stream; a stream that reached `trimEvery` is trimmed, off the write path. */
  private count(batch: PendingWrite[]): void {
    for (const { streamId } of batch) {
      const count = this.sinceTrim.get(streamId) ?? { written: 0, due: this.trimEvery };
      this.sinceTrim.set(streamId, count);
      if (++count.written < count.due) continue;
      count.written = 0;
      count.due = this.trimEvery;
      this.scheduleTrim(streamId);
    }
    if (this.sinceTrim.size > TRACKED_STREAMS) {
      // Many short streams (one per call): keep counting the busiest, which are the ones that grow.
      const busiest = [...this.sinceTrim].sort((a, b) => b[1].written - a[1].written).slice(0, TRACKED_STREAMS / 2);
      this.sinceTrim.clear();
      for (const [streamId, count] of busiest) this.sinceTrim.set(streamId, count);
    }
  }

  private scheduleTrim(streamId: string): void {
    if (this.trimQueued.has(streamId)) return;
    this.trimQueued.add(streamId);
    this.trimming = this.trimming
      .then(() => {
        this.trimQueued.delete(streamId);
        return this.trim(streamId);
      })
      .catch(this.onError);
  }

  private async trim(streamId: string): Promise<void> {
    const prefix = this.prefix(streamId);
    const { first, last, kept } = await this.kv.trimByPrefix(prefix, this.maxEvents);
    const count = this.sinceTrim.get(streamId);
    if (count) count.due = Math.max(this.trimEvery, this.maxEvents - kept);
    if (first === null || last === null) return;
    const [from, to] = [first.slice(prefix.length), last.slice(prefix.length)];
    const before = await this.dropped(streamId);
    // Another node trimming the same stream at once may have written a range meanwhile: widen, never narrow.
    const dropped: Dropped = before ? { from: before.from < from ? before.from : from, to: before.to > to ? before.to : to } : { from, to };
    await this.kv.set(this.droppedKey(streamId), JSON.stringify(dropped), { ttlMs: this.ttlMs });
  }

  private async dropped(streamId: string): Promise<Dropped | null> {
    const raw = await this.kv.get(this.droppedKey(streamId));
    return raw === null ? null : (JSON.parse(raw) as Dropped);
  }

  /** True when `position` was stored on the stream and trimmed away since (positions compare as strings). */
  private async wasDropped(streamId: string, position: string): Promise<boolean> {
    const dropped = await this.dropped(streamId);
    return dropped !== null && dropped.from <= position && position <= dropped.to;
  }

  async getStreamIdForEventId(eventId: EventId): Promise<StreamId | undefined> {
    const parsed = parseEventId(eventId);
    if (!parsed) return undefined;
    const key = `${this.prefix(parsed.streamId)}${parsed.position}`;
    if (this.unwritten.has(key)) return parsed.streamId;
    const exists = await this.kv.get(key);
    if (exists !== null) return parsed.streamId;
    return (await this.wasDropped(parsed.streamId, parsed.position)) ? parsed.streamId : undefined;
  }

  async replayEventsAfter(
    lastEventId: EventId,
    { send }: { send: (eventId: EventId, message: JSONRPCMessage) => Promise<void> },
  ): Promise<StreamId> {
    const parsed = parseEventId(lastEventId);
    if (!parsed) throw new Error("Invalid event ID format");
    const prefix = this.prefix(parsed.streamId);
    let cursor: string | null = `${prefix}${parsed.position}`;
    if (!this.unwritten.has(cursor) && (await this.kv.get(cursor)) === null && (await this.wasDropped(parsed.streamId, parsed.position))) {
      await send(lastEventId, this.droppedNotice());
    }
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

  /** MCP logging (`notifications/message`): the one message every 2025 client understands and shows. */
  private droppedNotice(): JSONRPCMessage {
    const message = `Some events after this point are no longer stored (a stream keeps its newest ${this.maxEvents}); replaying those still kept.`;
    return {
      jsonrpc: "2.0",
      method: "notifications/message",
      params: { level: "warning", logger: "gatehouse", data: { error: "events_dropped", message } },
    } as JSONRPCMessage;
  }
}
