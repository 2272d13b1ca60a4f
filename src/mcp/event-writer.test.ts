/**
 * Group commit of stored events: the event stores of several sessions on one
 * node share a writer, and writes handed in together become one statement,
 * resolved in the order they came.
 */
import type { JSONRPCMessage } from "@modelcontextprotocol/server";
import { describe, expect, it } from "vitest";
import { ManualClock } from "../clock.js";
import type { KvEntry } from "../storage/kv/kv.js";
import { MemoryKvStore } from "../storage/kv/memory.js";
import { KvEventStore, PositionAllocator } from "./event-store.js";
import { EventWriter } from "./event-writer.js";

const note = (n: number) => ({ jsonrpc: "2.0", method: "notifications/message", params: { level: "info", data: n } }) as JSONRPCMessage;

/** A memory KV that records each `setMany` it is given. */
function countingKv(clock: ManualClock) {
  const kv = new MemoryKvStore(clock);
  const statements: string[][] = [];
  const setMany = kv.setMany.bind(kv);
  kv.setMany = (entries: readonly KvEntry[], options) => {
    statements.push(entries.map((e) => e.key));
    return setMany(entries, options);
  };
  return { kv, statements };
}

describe("EventWriter (group commit across sessions)", () => {
  it("stores the events of several sessions handed in together with one statement", async () => {
    const clock = new ManualClock();
    const { kv, statements } = countingKv(clock);
    const positions = new PositionAllocator(clock, "unit0003");
    const writer = new EventWriter(kv, 60_000);
    const stores = ["s1", "s2", "s3"].map((id) => new KvEventStore(kv, id, positions, 60_000, { writer }));
    const ids = await Promise.all(stores.map((store, i) => store.storeEvent("stream", note(i))));
    expect(statements).toHaveLength(1);
    expect(statements[0]).toHaveLength(3);
    // Each session replays its own event, and only that.
    for (const [i, store] of stores.entries()) {
      const replayed: JSONRPCMessage[] = [];
      const first = ids[i]!.replace(/\d{19}[0-9a-z]{8}$/, "0".repeat(19) + "00000000");
      await store.replayEventsAfter(first, { send: async (_, message) => void replayed.push(message) });
      expect(replayed).toEqual([note(i)]);
    }
  });

  it("resolves writes in the order they came, also across statements", async () => {
    const clock = new ManualClock();
    const { kv, statements } = countingKv(clock);
    const writer = new EventWriter(kv, 60_000);
    const order: number[] = [];
    const first = writer.write([{ key: "a", value: "1" }]).then(() => order.push(1));
    const second = writer.write([{ key: "b", value: "2" }]).then(() => order.push(2));
    await first;
    const third = writer.write([{ key: "c", value: "3" }]).then(() => order.push(3));
    await Promise.all([second, third]);
    expect(order).toEqual([1, 2, 3]);
    expect(statements.flat()).toEqual(["a", "b", "c"]);
  });

  it("rejects every write of a failed statement, and goes on with the next", async () => {
    const clock = new ManualClock();
    const kv = new MemoryKvStore(clock);
    let fail = true;
    const setMany = kv.setMany.bind(kv);
    kv.setMany = (entries, options) => (fail ? Promise.reject(new Error("db down")) : setMany(entries, options));
    const writer = new EventWriter(kv, 60_000);
    const failed = await Promise.allSettled([writer.write([{ key: "a", value: "1" }]), writer.write([{ key: "b", value: "2" }])]);
    expect(failed.map((r) => r.status)).toEqual(["rejected", "rejected"]);
    fail = false;
    await writer.write([{ key: "c", value: "3" }]);
    expect(await kv.get("c")).toBe("3");
  });
});
