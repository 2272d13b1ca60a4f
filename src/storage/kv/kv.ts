/**
 * A flat, Redis-shaped key space (`oauth:code:<id>`, `mcp:event:…`).
 * Every implementation passes the same contract suite (kv.contract.ts).
 */
export interface KvSetOptions {
  /** Time to live; absent → the key never expires. */
  ttlMs?: number;
  /** Write only when the key is absent; an expired key counts as absent. */
  ifNotExists?: boolean;
}

export interface KvEntry {
  key: string;
  value: string;
}

export interface KvScanOptions {
  /** The last key of the previous page; the scan resumes strictly after it. */
  cursor?: string | null;
  /** Page size, 1..1000 (default 100). */
  limit?: number;
}

export interface KvScanPage {
  entries: KvEntry[];
  /** Pass back to get the next page; null when the scan is complete. */
  cursor: string | null;
}

export interface KvTrimResult {
  /** How many keys went. */
  removed: number;
  /** The first and the last key removed, in byte order; null when none went. */
  first: string | null;
  last: string | null;
  /** How many live keys the prefix still holds (at most `keep`), so a caller knows when to trim next. */
  kept: number;
}

export interface KvStore {
  get(key: string): Promise<string | null>;
  /** Returns false only when `ifNotExists` found a live key. */
  set(key: string, value: string, options?: KvSetOptions): Promise<boolean>;
  /** Writes several keys at once (all or none), each overwriting what was there; one round trip. */
  setMany(entries: readonly KvEntry[], options?: Pick<KvSetOptions, "ttlMs">): Promise<void>;
  /** Atomic take: of concurrent callers, exactly one receives the value. */
  getDel(key: string): Promise<string | null>;
  /** Returns whether a live key was removed. */
  del(key: string): Promise<boolean>;
  /** Live keys starting with `prefix` (matched literally), in byte order, one page at a time. */
  scanByPrefix(prefix: string, options?: KvScanOptions): Promise<KvScanPage>;
  /**
   * Deletes the live keys starting with `prefix` (matched literally) that come first in byte order,
   * until at most `keep` remain: a capped, append-only log keyed by position. One statement.
   */
  trimByPrefix(prefix: string, keep: number): Promise<KvTrimResult>;
  /** Deletes up to `batchSize` expired keys; returns how many went. */
  sweepExpired(batchSize?: number): Promise<number>;
}

export const KV_MAX_PAGE = 1000;

export function pageSize(limit: number | undefined): number {
  if (limit === undefined) return 100;
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError("limit must be a positive integer");
  return Math.min(limit, KV_MAX_PAGE);
}

export function keepCount(keep: number): number {
  if (!Number.isInteger(keep) || keep < 0) throw new RangeError("keep must be a non-negative integer");
  return keep;
}

export function expiryOf(now: number, ttlMs: number | undefined): number | null {
  if (ttlMs === undefined) return null;
  if (!Number.isFinite(ttlMs) || ttlMs <= 0) throw new RangeError("ttlMs must be a positive number");
  return now + Math.ceil(ttlMs);
}

/** Byte-order comparison (what PostgreSQL's `text_pattern_ops` and `COLLATE "C"` use). */
export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}
