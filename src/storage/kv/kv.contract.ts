/**
 * The KV contract: every implementation must pass this whole suite. Races
 * are real (Promise.all over a pool on PostgreSQL), not simulated.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ManualClock } from "../../clock.js";
import type { KvStore } from "./kv.js";

export interface KvHarness {
  kv: KvStore;
  clock: ManualClock;
  cleanup(): Promise<void>;
}

export function kvContract(name: string, makeHarness: () => Promise<KvHarness>): void {
  describe(`KV contract: ${name}`, () => {
    let h: KvHarness;
    let n = 0;
    const key = (label: string) => `t${++n}:${label}`;

    beforeAll(async () => {
      h = await makeHarness();
    });
    afterAll(async () => {
      await h?.cleanup();
    });

    it("gets what was set, and null for a missing key", async () => {
      const k = key("a");
      expect(await h.kv.get(k)).toBeNull();
      expect(await h.kv.set(k, "v1")).toBe(true);
      expect(await h.kv.get(k)).toBe("v1");
      expect(await h.kv.set(k, "v2")).toBe(true);
      expect(await h.kv.get(k)).toBe("v2");
    });

    it("stores values byte for byte (unicode, empty, large)", async () => {
      const values = ["", "ünïcødé ✓ 𝄞", "x".repeat(200_000), '{"json":[1,2,3]}', "a\u0000b".replace("\u0000", "\\0")];
      for (const value of values) {
        const k = key("bytes");
        await h.kv.set(k, value);
        expect(await h.kv.get(k)).toBe(value);
      }
    });

    it("expires keys after their TTL by the injected clock", async () => {
      const k = key("ttl");
      await h.kv.set(k, "v", { ttlMs: 1000 });
      h.clock.advance(999);
      expect(await h.kv.get(k)).toBe("v");
      h.clock.advance(1);
      expect(await h.kv.get(k)).toBeNull();
      expect(await h.kv.getDel(k)).toBeNull();
      expect(await h.kv.del(k)).toBe(false);
    });

    it("setMany writes every entry with one TTL, overwriting, the last of a repeated key winning", async () => {
      const [a, b, c] = [key("many-a"), key("many-b"), key("many-c")];
      await h.kv.set(a, "old", { ttlMs: 10 });
      await h.kv.setMany([]);
      await h.kv.setMany(
        [
          { key: a, value: "A" },
          { key: b, value: "ünï 𝄞" },
          { key: c, value: "first" },
          { key: c, value: "last" },
        ],
        { ttlMs: 1000 },
      );
      expect([await h.kv.get(a), await h.kv.get(b), await h.kv.get(c)]).toEqual(["A", "ünï 𝄞", "last"]);
      h.clock.advance(1000);
      expect([await h.kv.get(a), await h.kv.get(b), await h.kv.get(c)]).toEqual([null, null, null]);
      await h.kv.setMany([{ key: a, value: "forever" }]);
      h.clock.advance(10_000_000);
      expect(await h.kv.get(a)).toBe("forever");
    });

    it("setMany writes 2,000 keys in one call, all readable in order by scan", async () => {
      const prefix = key("bulk:");
      const entries = Array.from({ length: 2000 }, (_, i) => ({ key: `${prefix}${String(i).padStart(5, "0")}`, value: String(i) }));
      await h.kv.setMany(entries, { ttlMs: 60_000 });
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const page = await h.kv.scanByPrefix(prefix, { cursor, limit: 1000 });
        seen.push(...page.entries.map((e) => e.value));
        cursor = page.cursor;
      } while (cursor !== null);
      expect(seen).toEqual(entries.map((e) => e.value));
    });

    it("a plain set clears a previous TTL", async () => {
      const k = key("ttl-clear");
      await h.kv.set(k, "v", { ttlMs: 10 });
      await h.kv.set(k, "w");
      h.clock.advance(1000);
      expect(await h.kv.get(k)).toBe("w");
    });

    it("rejects a non-positive TTL", async () => {
      await expect(h.kv.set(key("bad"), "v", { ttlMs: 0 })).rejects.toThrow(RangeError);
      await expect(h.kv.set(key("bad"), "v", { ttlMs: -5 })).rejects.toThrow(RangeError);
    });

    it("ifNotExists writes only when absent, and treats an expired key as absent", async () => {
      const k = key("nx");
      expect(await h.kv.set(k, "first", { ifNotExists: true, ttlMs: 500 })).toBe(true);
      expect(await h.kv.set(k, "second", { ifNotExists: true })).toBe(false);
      expect(await h.kv.get(k)).toBe("first");
      h.clock.advance(500);
      expect(await h.kv.set(k, "third", { ifNotExists: true })).toBe(true);
      expect(await h.kv.get(k)).toBe("third");
      h.clock.advance(10_000_000);
      expect(await h.kv.get(k)).toBe("third");
    });

    it("getDel takes the value exactly once", async () => {
      const k = key("take");
      await h.kv.set(k, "once");
      expect(await h.kv.getDel(k)).toBe("once");
      expect(await h.kv.getDel(k)).toBeNull();
      expect(await h.kv.get(k)).toBeNull();
    });

    it("del reports whether a live key went", async () => {
      const k = key("del");
      expect(await h.kv.del(k)).toBe(false);
      await h.kv.set(k, "v");
      expect(await h.kv.del(k)).toBe(true);
      expect(await h.kv.get(k)).toBeNull();
    });

    it("50 concurrent getDel of one key: exactly one caller gets the value", async () => {
      for (let round = 0; round < 5; round++) {
        const k = key("race-take");
        await h.kv.set(k, "prize");
        const results = await Promise.all(Array.from({ length: 50 }, () => h.kv.getDel(k)));
        expect(results.filter((r) => r === "prize")).toHaveLength(1);
        expect(results.filter((r) => r === null)).toHaveLength(49);
      }
    });

    it("50 concurrent set ifNotExists: exactly one winner, whose value stays", async () => {
      for (let round = 0; round < 5; round++) {
        const k = key("race-nx");
        const results = await Promise.all(
          Array.from({ length: 50 }, (_, i) => h.kv.set(k, `w${i}`, { ifNotExists: true, ttlMs: 60_000 })),
        );
        const winners = results.flatMap((won, i) => (won ? [i] : []));
        expect(winners).toHaveLength(1);
        expect(await h.kv.get(k)).toBe(`w${winners[0]}`);
      }
    });

    it("50 concurrent ifNotExists on an expired key: exactly one winner", async () => {
      const k = key("race-expired");
      await h.kv.set(k, "old", { ttlMs: 10 });
      h.clock.advance(11);
      const results = await Promise.all(Array.from({ length: 50 }, (_, i) => h.kv.set(k, `n${i}`, { ifNotExists: true })));
      expect(results.filter(Boolean)).toHaveLength(1);
    });

    it("scans 5,000 keys in pages of 100: each key once, in byte order", async () => {
      const prefix = `${key("scan")}:`;
      const keys = Array.from({ length: 5000 }, (_, i) => `${prefix}${String(i).padStart(5, "0")}`);
      for (let i = 0; i < keys.length; i += 500) {
        await Promise.all(keys.slice(i, i + 500).map((k) => h.kv.set(k, k)));
      }
      await h.kv.set(`${prefix.slice(0, -1)};outside`, "x");
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const page = await h.kv.scanByPrefix(prefix, { cursor, limit: 100 });
        for (const entry of page.entries) {
          expect(entry.value).toBe(entry.key);
          seen.push(entry.key);
        }
        cursor = page.cursor;
        pages++;
      } while (cursor !== null);
      expect(seen).toEqual(keys);
      expect(pages).toBe(50);
    });

    it("scan has no silent cap: a limit above the page maximum still pages through everything", async () => {
      const prefix = `${key("cap")}:`;
      await Promise.all(Array.from({ length: 1500 }, (_, i) => h.kv.set(`${prefix}${String(i).padStart(4, "0")}`, "v")));
      let total = 0;
      let cursor: string | null = null;
      do {
        const page = await h.kv.scanByPrefix(prefix, { cursor, limit: 100_000 });
        total += page.entries.length;
        cursor = page.cursor;
      } while (cursor);
      expect(total).toBe(1500);
    });

    it("scan matches %, _ and \\ in a prefix literally", async () => {
      const base = key("lit");
      const inside = [`${base}:50%_off\\x:1`, `${base}:50%_off\\x:2`];
      const outside = [`${base}:50Xaoff\\x:1`, `${base}:50%Aoff\\x:1`, `${base}:50%_offYx:1`, `${base}:50`];
      for (const k of [...inside, ...outside]) await h.kv.set(k, "v");
      const page = await h.kv.scanByPrefix(`${base}:50%_off\\`);
      expect(page.entries.map((e) => e.key)).toEqual(inside);
      expect(page.cursor).toBeNull();
    });

    it("scan orders by bytes, not by locale", async () => {
      const base = `${key("order")}:`;
      const ks = [`${base}B`, `${base}a`, `${base}_`, `${base}Z`, `${base}é`, `${base}~`];
      for (const k of ks) await h.kv.set(k, "v");
      const page = await h.kv.scanByPrefix(base);
      expect(page.entries.map((e) => e.key)).toEqual([...ks].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))));
    });

    it("scan skips expired keys and resumes after a cursor", async () => {
      const base = `${key("scan-ttl")}:`;
      await h.kv.set(`${base}1`, "a");
      await h.kv.set(`${base}2`, "b", { ttlMs: 5 });
      await h.kv.set(`${base}3`, "c");
      h.clock.advance(5);
      const first = await h.kv.scanByPrefix(base, { limit: 1 });
      expect(first.entries).toEqual([{ key: `${base}1`, value: "a" }]);
      const second = await h.kv.scanByPrefix(base, { limit: 1, cursor: first.cursor });
      expect(second.entries).toEqual([{ key: `${base}3`, value: "c" }]);
      expect(second.cursor === null || (await h.kv.scanByPrefix(base, { cursor: second.cursor })).entries.length === 0).toBe(true);
    });

    it("rejects an invalid page size", async () => {
      await expect(h.kv.scanByPrefix("x", { limit: 0 })).rejects.toThrow(RangeError);
    });

    it("trimByPrefix deletes the first keys in byte order until `keep` remain, and says which went and how many stay", async () => {
      const base = `${key("trim")}:`;
      const ks = Array.from({ length: 12 }, (_, i) => `${base}${String(i).padStart(3, "0")}`);
      await h.kv.setMany(ks.map((k) => ({ key: k, value: k })));
      await h.kv.set(`${base.slice(0, -1)}X`, "a neighbour outside the prefix");
      expect(await h.kv.trimByPrefix(base, 5)).toEqual({ removed: 7, first: ks[0], last: ks[6], kept: 5 });
      expect((await h.kv.scanByPrefix(base)).entries.map((e) => e.key)).toEqual(ks.slice(7));
      expect(await h.kv.get(`${base.slice(0, -1)}X`)).not.toBeNull();
      expect(await h.kv.trimByPrefix(base, 5), "nothing more to do").toEqual({ removed: 0, first: null, last: null, kept: 5 });
      expect(await h.kv.trimByPrefix(base, 9), "room left").toEqual({ removed: 0, first: null, last: null, kept: 5 });
      expect(await h.kv.trimByPrefix(base, 0)).toEqual({ removed: 5, first: ks[7], last: ks[11], kept: 0 });
      expect((await h.kv.scanByPrefix(base)).entries).toEqual([]);
    });

    it("trimByPrefix counts only live keys, orders by bytes and matches the prefix literally", async () => {
      const base = `${key("trim-lit")}:5%_`;
      await h.kv.set(`${base}a`, "expired", { ttlMs: 5 });
      for (const suffix of ["B", "b", "é", "~"]) await h.kv.set(`${base}${suffix}`, "v");
      await h.kv.set(`${base.replace("%_", "xx")}A`, "outside: % and _ are not wildcards");
      h.clock.advance(5);
      expect(await h.kv.trimByPrefix(base, 2)).toEqual({ removed: 2, first: `${base}B`, last: `${base}b`, kept: 2 });
      expect((await h.kv.scanByPrefix(base)).entries.map((e) => e.key)).toEqual([`${base}~`, `${base}é`]);
      expect(await h.kv.get(`${base.replace("%_", "xx")}A`)).not.toBeNull();
    });

    it("trimByPrefix rejects a negative or fractional count", async () => {
      await expect(h.kv.trimByPrefix("x", -1)).rejects.toThrow(RangeError);
      await expect(h.kv.trimByPrefix("x", 1.5)).rejects.toThrow(RangeError);
    });

    it("sweeps expired keys in bounded batches and leaves live ones", async () => {
      const base = `${key("sweep")}:`;
      await Promise.all(Array.from({ length: 25 }, (_, i) => h.kv.set(`${base}${i}`, "v", { ttlMs: 10 })));
      await h.kv.set(`${base}live`, "v", { ttlMs: 1_000_000_000 });
      h.clock.advance(10);
      let swept = 0;
      for (;;) {
        const removed = await h.kv.sweepExpired(10);
        expect(removed).toBeLessThanOrEqual(10);
        swept += removed;
        if (removed === 0) break;
      }
      expect(swept).toBeGreaterThanOrEqual(25);
      expect(await h.kv.get(`${base}live`)).toBe("v");
    });
  });
}
