/**
 * Steady-state /mcp calls make no database round trip for the token check
 * (PRODUCT §7): verified access tokens are cached by hash. Revocations reach
 * every node's cache through the event bus; whenever the bus may have missed
 * a message, the cache is flushed and bypassed until it is reliable again,
 * so a revocation still applies within the bus latency everywhere.
 */
import type { Clock } from "../clock.js";
import { sha256Hex } from "../crypto.js";
import type { AccessTokenInfo } from "./connections.js";

interface Entry {
  info: AccessTokenInfo;
  hash: string;
}

export class AccessTokenCache {
  private readonly entries = new Map<string, Entry>();
  /** Bumped by every drop, so a lookup that raced a revocation is answered but not cached. */
  private epoch = 0;

  constructor(
    private readonly verify: (token: string) => Promise<AccessTokenInfo | null>,
    private readonly isReliable: () => boolean,
    private readonly clock: Clock,
    private readonly maxEntries = 50_000,
  ) {}

  async verifyAccessToken(token: string): Promise<AccessTokenInfo | null> {
    if (!this.isReliable()) {
      this.entries.clear();
      return this.verify(token);
    }
    const hash = sha256Hex(token);
    const hit = this.entries.get(hash);
    if (hit) {
      if (hit.info.expiresAt > this.clock.now()) return hit.info;
      this.entries.delete(hash);
    }
    const epoch = this.epoch;
    const info = await this.verify(token);
    if (info && epoch === this.epoch) {
      if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
      this.entries.set(hash, { info, hash });
    }
    return info;
  }

  dropConnection(connectionId: string): void {
    this.epoch++;
    for (const [hash, entry] of this.entries) if (entry.info.connectionId === connectionId) this.entries.delete(hash);
  }

  dropToken(tokenHash: string): void {
    this.epoch++;
    this.entries.delete(tokenHash);
  }

  clear(): void {
    this.epoch++;
    this.entries.clear();
  }
}
