/**
 * "Last used" on /user: a connection's use is written at most once a minute,
 * off the request path — a busy client costs one UPDATE a minute, not one
 * per call, and a slow database never slows /mcp.
 */
import type { Clock } from "../clock.js";
import type { Logger } from "../logger.js";
import type { ConnectionStore } from "./connections.js";

const WRITE_EVERY_MS = 60_000;
/** Remembered connections; past this the memory starts over (worst case: one extra write each). */
const MAX_REMEMBERED = 10_000;

export class LastUsed {
  private readonly written = new Map<string, number>();

  constructor(
    private readonly connections: ConnectionStore,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {}

  record(connectionId: string): void {
    const now = this.clock.now();
    if (now - (this.written.get(connectionId) ?? 0) < WRITE_EVERY_MS) return;
    if (this.written.size >= MAX_REMEMBERED) this.written.clear();
    this.written.set(connectionId, now);
    this.connections.touch(connectionId, now).catch((error: unknown) => this.logger.warn("last-used update failed", { error }));
  }
}
