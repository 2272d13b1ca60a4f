/**
 * Rate limits kept in the database (rate-limiter-flexible's atomic Drizzle
 * store over the `rate_limits` table), so a limit holds across every node.
 */
import { RateLimiterDrizzle, RateLimiterRes } from "rate-limiter-flexible";
import type { Db } from "./db.js";
import { rateLimits } from "./schema.js";

export interface RateLimit {
  /** Consumes one point for `key`; returns the seconds to wait when over the limit, else null. */
  consume(key: string): Promise<number | null>;
  /** Forgets `key` (for example after a successful sign-in). */
  reset(key: string): Promise<void>;
  /** Whether `key` has used up its points (the next `consume` would be refused), without consuming one. */
  exceeded(key: string): Promise<boolean>;
}

export interface RateLimitOptions {
  name: string;
  points: number;
  durationSeconds: number;
  /** Once over the limit, stay blocked this long. */
  blockSeconds?: number;
}

export function createRateLimit(db: Db, options: RateLimitOptions): RateLimit {
  const limiter = new RateLimiterDrizzle({
    storeClient: db,
    schema: rateLimits,
    keyPrefix: options.name,
    points: options.points,
    duration: options.durationSeconds,
    blockDuration: options.blockSeconds ?? 0,
    clearExpiredByTimeout: false,
  });
  const retryAfter = (res: RateLimiterRes) => Math.max(1, Math.ceil(res.msBeforeNext / 1000));
  return {
    async consume(key) {
      try {
        await limiter.consume(key);
        return null;
      } catch (rejection) {
        if (rejection instanceof RateLimiterRes) return retryAfter(rejection);
        throw rejection;
      }
    },
    async reset(key) {
      await limiter.delete(key);
    },
    async exceeded(key) {
      const res = await limiter.get(key);
      return res !== null && res.consumedPoints >= options.points;
    },
  };
}

/** Rate limits that admit everything, for tests that are not about limits. */
export const unlimited: RateLimit = { consume: async () => null, reset: async () => {}, exceeded: async () => false };
