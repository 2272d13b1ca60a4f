/**
 * Group commit for stored events (issue 10): every session's event store on
 * this node hands its writes here, and whatever is pending when a statement
 * can start — from any number of sessions — goes in one `setMany`, so a
 * node answering many quick calls at once makes one database round trip per
 * batch instead of one per call. One statement is in flight at a time and
 * batches are written, and their writers resumed, in the order they came:
 * a stream's events reach the wire in the order of their positions.
 */
import type { KvEntry, KvStore } from "../storage/kv/kv.js";

/** Rows per statement: far below PostgreSQL's 65,535 bind parameters (3 a row), and a bounded statement. */
const MAX_ROWS = 1000;

interface Pending {
  entries: readonly KvEntry[];
  resolve(): void;
  reject(error: unknown): void;
}

export class EventWriter {
  private pending: Pending[] = [];
  private writing = false;

  constructor(
    private readonly kv: KvStore,
    private readonly ttlMs: number,
  ) {}

  /** Resolves once `entries` are stored (with everything handed in before them). */
  write(entries: readonly KvEntry[]): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ entries, resolve, reject });
      if (!this.writing) void this.flush();
    });
  }

  private async flush(): Promise<void> {
    this.writing = true;
    // Whatever else this tick hands in joins the statement.
    await new Promise<void>((resolve) => setImmediate(resolve));
    while (this.pending.length > 0) {
      const batch: Pending[] = [];
      let rows = 0;
      while (this.pending.length > 0 && (batch.length === 0 || rows + this.pending[0]!.entries.length <= MAX_ROWS)) {
        const next = this.pending.shift()!;
        batch.push(next);
        rows += next.entries.length;
      }
      try {
        await this.kv.setMany(
          batch.flatMap((b) => b.entries),
          { ttlMs: this.ttlMs },
        );
        for (const b of batch) b.resolve();
      } catch (error) {
        for (const b of batch) b.reject(error);
      }
    }
    this.writing = false;
  }
}
