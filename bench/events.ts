/**
 * The legacy sessions' event store on the real database: append rate through
 * `KvEventStore.storeEvent`, and a whole replay of a 10,000-event stream
 * (PRODUCT §7: under 1 s). The replayed stream is loaded in bulk (its rows
 * are exactly what storeEvent writes), so the load stays within the budget.
 */
import { randomBytes } from "node:crypto";
import type { JSONRPCMessage } from "@modelcontextprotocol/server";
import { systemClock } from "../src/clock.js";
import { KvEventStore, PositionAllocator } from "../src/mcp/event-store.js";
import type { RunningServer } from "../src/server.js";
import { kvStoreEntries } from "../src/storage/schema.js";
import { fmtOps, opsPerSecond } from "./lib.js";

const APPEND_BUDGET_MS = 1_500;
const REPLAY_EVENTS = 10_000;
const TTL_MS = 60 * 60 * 1000;

const progress = (i: number): JSONRPCMessage =>
  ({ jsonrpc: "2.0", method: "notifications/progress", params: { progressToken: "bench", progress: i, total: REPLAY_EVENTS } }) as JSONRPCMessage;

const WIDTHS = [16, 16, 18, 11, 11, 9];
const line = (cells: string[]) => cells.map((cell, i) => (i === 0 ? cell.padEnd(WIDTHS[i]!) : cell.padStart(WIDTHS[i]!))).join(" ");

export function printHeader(): void {
  console.log(`\nEvent store (KvEventStore on the server's database): append for ${APPEND_BUDGET_MS / 1000} s per cell; replay of ${REPLAY_EVENTS.toLocaleString("en-US")} events (target < 1 s)\n`);
  console.log(line(["backend", "append, 1 caller", "append, 16 callers", "replay ms", "events/s", "complete"]));
}

export async function measureEvents(label: string, running: RunningServer): Promise<void> {
  const session = `bench-${randomBytes(6).toString("hex")}`;
  const positions = new PositionAllocator(systemClock, "bench001");
  const store = new KvEventStore(running.deps.kv, session, positions, TTL_MS);

  const sequential = await opsPerSecond(Infinity, 1, (i) => store.storeEvent("append-1", progress(i)), APPEND_BUDGET_MS);
  const concurrent = await opsPerSecond(Infinity, 16, (i) => store.storeEvent("append-16", progress(i)), APPEND_BUDGET_MS);

  // A stream as the transport writes it: the priming event `{}`, then the messages.
  const primingId = await store.storeEvent("replay", {} as JSONRPCMessage);
  const expiresAt = Date.now() + TTL_MS;
  for (let start = 0; start < REPLAY_EVENTS; start += 1_000) {
    const rows = Array.from({ length: Math.min(1_000, REPLAY_EVENTS - start) }, (_, j) => ({
      key: `mcp:event:${session}:replay:${positions.next()}`,
      value: JSON.stringify(progress(start + j)),
      expiresAt,
    }));
    await running.deps.database.db.insert(kvStoreEntries).values(rows);
  }
  let replayed = 0;
  let inOrder = true;
  const started = performance.now();
  await store.replayEventsAfter(primingId, {
    send: async (_id, message) => {
      if ((message as { params?: { progress?: number } }).params?.progress !== replayed) inOrder = false;
      replayed++;
    },
  });
  const ms = performance.now() - started;
  const complete = replayed === REPLAY_EVENTS && inOrder ? "yes" : `NO (${replayed}${inOrder ? "" : ", out of order"})`;
  console.log(line([label, `${fmtOps(sequential.perSecond)}/s`, `${fmtOps(concurrent.perSecond)}/s`, ms.toFixed(0), fmtOps(replayed / (ms / 1000)), complete]));
}
