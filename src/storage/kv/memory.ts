import { systemClock, type Clock } from "../../clock.js";
import {
  compareKeys,
  expiryOf,
  keepCount,
  pageSize,
  type KvEntry,
  type KvScanOptions,
  type KvScanPage,
  type KvSetOptions,
  type KvStore,
  type KvTrimResult,
} from "./kv.js";

interface Slot {
  value: string;
  expiresAt: number | null;
}

/** In-memory KV for unit tests and single-process embedding. */
export class MemoryKvStore implements KvStore {
  private readonly slots = new Map<string, Slot>();

  constructor(private readonly clock: Clock = systemClock) {}

  private live(key: string): Slot | undefined {
    const slot = this.slots.get(key);
    if (slot && slot.expiresAt !== null && slot.expiresAt <= this.clock.now()) return undefined;
    return slot;
  }

  async get(key: string): Promise<string | null> {
    return this.live(key)?.value ?? null;
  }

  async set(key: string, value: string, options: KvSetOptions = {}): Promise<boolean> {
    const expiresAt = expiryOf(this.clock.now(), options.ttlMs);
    if (options.ifNotExists && this.live(key)) return false;
    this.slots.set(key, { value, expiresAt });
    return true;
  }

  async setMany(entries: readonly KvEntry[], options: Pick<KvSetOptions, "ttlMs"> = {}): Promise<void> {
    const expiresAt = expiryOf(this.clock.now(), options.ttlMs);
    for (const { key, value } of entries) this.slots.set(key, { value, expiresAt });
  }

  async getDel(key: string): Promise<string | null> {
    const slot = this.live(key);
    this.slots.delete(key);
    return slot?.value ?? null;
  }

  async del(key: string): Promise<boolean> {
    const existed = this.live(key) !== undefined;
    this.slots.delete(key);
    return existed;
  }

  async scanByPrefix(prefix: string, options: KvScanOptions = {}): Promise<KvScanPage> {
    const limit = pageSize(options.limit);
    const cursor = options.cursor ?? null;
    const keys = [...this.slots.keys()]
      .filter((key) => key.startsWith(prefix) && (cursor === null || compareKeys(key, cursor) > 0) && this.live(key))
      .sort(compareKeys)
      .slice(0, limit + 1);
    const page = keys.slice(0, limit);
    return {
      entries: page.map((key) => ({ key, value: this.slots.get(key)!.value })),
      cursor: keys.length > limit ? page[page.length - 1]! : null,
    };
  }

  async trimByPrefix(prefix: string, keep: number): Promise<KvTrimResult> {
    const kept = keepCount(keep);
    const keys = [...this.slots.keys()].filter((key) => key.startsWith(prefix) && this.live(key)).sort(compareKeys);
    const doomed = keys.slice(0, Math.max(0, keys.length - kept));
    for (const key of doomed) this.slots.delete(key);
    return { removed: doomed.length, first: doomed[0] ?? null, last: doomed.at(-1) ?? null, kept: keys.length - doomed.length };
  }

  async sweepExpired(batchSize = 1000): Promise<number> {
    const now = this.clock.now();
    let removed = 0;
    for (const [key, slot] of this.slots) {
      if (removed >= batchSize) break;
      if (slot.expiresAt !== null && slot.expiresAt <= now) {
        this.slots.delete(key);
        removed++;
      }
    }
    return removed;
  }
}
