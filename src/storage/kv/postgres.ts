/**
 * KV over the `kv_store_entries` table, on PGlite or PostgreSQL. Every
 * operation is one statement, so atomicity comes from the database:
 * `getDel` is `DELETE … RETURNING`, `ifNotExists` is `INSERT … ON CONFLICT`
 * that overwrites only an expired row. Expiry is judged by the injected
 * clock (`expires_at` is epoch ms), never the database's own time.
 */
import { sql, type SQL } from "drizzle-orm";
import type { Clock } from "../../clock.js";
import { queryRows, type Db } from "../db.js";
import {
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

/** LIKE treats `%`, `_` and `\` specially; a prefix must match literally. */
export function likePrefix(prefix: string): string {
  return `${prefix.replace(/[\\%_]/g, "\\$&")}%`;
}

export class PostgresKvStore implements KvStore {
  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
  ) {}

  private liveAt(now: number): SQL {
    return sql`(expires_at IS NULL OR expires_at > ${now})`;
  }

  async get(key: string): Promise<string | null> {
    const rows = await queryRows<{ value: string }>(
      this.db,
      sql`SELECT value FROM kv_store_entries WHERE key = ${key} AND ${this.liveAt(this.clock.now())}`,
    );
    return rows[0]?.value ?? null;
  }

  async set(key: string, value: string, options: KvSetOptions = {}): Promise<boolean> {
    const now = this.clock.now();
    const expiresAt = expiryOf(now, options.ttlMs);
    const onlyIfExpired = options.ifNotExists
      ? sql`WHERE kv_store_entries.expires_at IS NOT NULL AND kv_store_entries.expires_at <= ${now}`
      : sql``;
    const rows = await queryRows<{ key: string }>(
      this.db,
      sql`INSERT INTO kv_store_entries (key, value, expires_at) VALUES (${key}, ${value}, ${expiresAt})
          ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, expires_at = EXCLUDED.expires_at ${onlyIfExpired}
          RETURNING key`,
    );
    return rows.length === 1;
  }

  async setMany(entries: readonly KvEntry[], options: Pick<KvSetOptions, "ttlMs"> = {}): Promise<void> {
    if (entries.length === 0) return;
    const expiresAt = expiryOf(this.clock.now(), options.ttlMs);
    // A key given twice would make ON CONFLICT touch one row twice (an error): the last value wins, as with set.
    const unique = [...new Map(entries.map((entry) => [entry.key, entry.value]))];
    const rows = sql.join(
      unique.map(([key, value]) => sql`(${key}, ${value}, ${expiresAt})`),
      sql`, `,
    );
    await this.db.execute(
      sql`INSERT INTO kv_store_entries (key, value, expires_at) VALUES ${rows}
          ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, expires_at = EXCLUDED.expires_at`,
    );
  }

  async getDel(key: string): Promise<string | null> {
    const rows = await queryRows<{ value: string; live: boolean }>(
      this.db,
      sql`DELETE FROM kv_store_entries WHERE key = ${key}
          RETURNING value, ${this.liveAt(this.clock.now())} AS live`,
    );
    const row = rows[0];
    return row && row.live ? row.value : null;
  }

  async del(key: string): Promise<boolean> {
    const rows = await queryRows<{ live: boolean }>(
      this.db,
      sql`DELETE FROM kv_store_entries WHERE key = ${key} RETURNING ${this.liveAt(this.clock.now())} AS live`,
    );
    return rows[0]?.live === true;
  }

  async scanByPrefix(prefix: string, options: KvScanOptions = {}): Promise<KvScanPage> {
    const limit = pageSize(options.limit);
    const cursor = options.cursor ?? null;
    // `~>~` and `~<~` compare bytewise, the order of the text_pattern_ops index.
    const after = cursor === null ? sql`` : sql`AND key ~>~ ${cursor}`;
    const rows = await queryRows<{ key: string; value: string }>(
      this.db,
      sql`SELECT key, value FROM kv_store_entries
          WHERE key LIKE ${likePrefix(prefix)} ESCAPE '\\' ${after} AND ${this.liveAt(this.clock.now())}
          ORDER BY key USING ~<~ LIMIT ${limit + 1}`,
    );
    const page = rows.slice(0, limit).map(({ key, value }) => ({ key, value }));
    return { entries: page, cursor: rows.length > limit ? page[page.length - 1]!.key : null };
  }

  async trimByPrefix(prefix: string, keep: number): Promise<KvTrimResult> {
    const now = this.clock.now();
    const kept = keepCount(keep);
    const live = sql`key LIKE ${likePrefix(prefix)} ESCAPE '\\' AND ${this.liveAt(now)}`;
    // Newest first along the text_pattern_ops index; everything past the first `keep` goes. The count
    // sees the rows as they were before the DELETE (one snapshot per statement).
    const rows = await queryRows<{ removed: number; first: string | null; last: string | null; total: number }>(
      this.db,
      sql`WITH gone AS (
            DELETE FROM kv_store_entries WHERE key IN (
              SELECT key FROM kv_store_entries WHERE ${live} ORDER BY key USING ~>~ OFFSET ${kept})
            RETURNING key)
          SELECT count(*)::int AS removed, min(key COLLATE "C") AS first, max(key COLLATE "C") AS last,
                 (SELECT count(*)::int FROM kv_store_entries WHERE ${live}) AS total
          FROM gone`,
    );
    const row = rows[0];
    return { removed: row?.removed ?? 0, first: row?.first ?? null, last: row?.last ?? null, kept: Math.min(row?.total ?? 0, kept) };
  }

  async sweepExpired(batchSize = 1000): Promise<number> {
    const rows = await queryRows<{ key: string }>(
      this.db,
      sql`DELETE FROM kv_store_entries WHERE key IN (
            SELECT key FROM kv_store_entries WHERE expires_at <= ${this.clock.now()}
            LIMIT ${batchSize} FOR UPDATE SKIP LOCKED)
          RETURNING key`,
    );
    return rows.length;
  }
}
