/**
 * Resumability of legacy (2025) SSE streams: SPEC-CHECKLIST RES-1..RES-9,
 * TR-8, TR-10, TR-11, LC-4 (progress increases); THREATS 47, 48; PRODUCT §6
 * "Resumability" — every server-to-client message stored with an id,
 * `Last-Event-ID` replays the rest of that stream in order with nothing lost
 * or duplicated, also within one millisecond, for 10,000 events, after a
 * restart and on another node; another session's id replays nothing.
 *
 * The HTTP suites run on a frozen ManualClock, so every event id is minted
 * in the same millisecond. The last block unit-tests the event store.
 */
import { mkdtemp } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { ManualClock } from "../../src/clock.js";
import { defineTool, MemoryKvStore } from "../../src/index.js";
import { KvEventStore, PositionAllocator } from "../../src/mcp/event-store.js";
import type { KvStore } from "../../src/storage/kv/kv.js";
import { kvStoreEntries } from "../../src/storage/schema.js";
import type { JSONRPCMessage } from "@modelcontextprotocol/server";
import { drivers } from "../helpers/databases.js";
import { type JsonRpcMessage, messageOf, type SseEvent, SseReader } from "../helpers/sse.js";
import { openSession, request, sessionGet, sessionPost, sessionRpc } from "../helpers/mcp.js";
import { addSignedInUser, type Cluster, deferred, grant, pgliteDataDir, resumeStream, startCluster, type TestUser } from "../helpers/mcp-fixtures.js";
import { startTestServer, type TestServer } from "../helpers/server.js";

/* ------------------------------------------------------------- the tool */

interface Run {
  /** Resolve to let a paused run go on. */
  release: () => void;
  released: Promise<void>;
  /** Resolves when the handler has emitted everything and is about to return. */
  finished: Promise<void>;
  finish: () => void;
}
const runs = new Map<string, Run>();
function newRun(key: string): Run {
  const gate = deferred();
  const done = deferred();
  const run = { release: () => gate.resolve(), released: gate.promise, finished: done.promise, finish: () => done.resolve() };
  runs.set(key, run);
  return run;
}

/** Emits `count` progress notifications, `burst` at a time (fired together), optionally pausing after `pauseAfter`. */
const emit = defineTool({
  name: "emit",
  description: "Emits progress notifications quickly, then returns.",
  input: z.object({
    count: z.number().int().min(1).max(5000),
    burst: z.number().int().min(1).max(100).default(1),
    pauseAfter: z.number().int().min(1).optional(),
    run: z.string().optional(),
  }),
  async handler({ count, burst, pauseAfter, run }, ctx) {
    const control = run ? runs.get(run) : undefined;
    let sent = 0;
    while (sent < count) {
      if (control && sent === pauseAfter) await control.released;
      const limit = pauseAfter !== undefined && sent < pauseAfter ? pauseAfter : count;
      const n = Math.min(burst, limit - sent);
      const first = sent + 1;
      await Promise.all(Array.from({ length: n }, (_, k) => ctx.progress(first + k, count)));
      sent += n;
    }
    control?.finish();
    return { content: [{ type: "text", text: `emitted ${count}` }] };
  },
});

function emitCall(args: Record<string, unknown>, progressToken: string): JsonRpcMessage {
  return request("tools/call", { name: "emit", arguments: args, _meta: { progressToken } });
}

const progressOf = (events: SseEvent[]) =>
  events.map(messageOf).filter((m): m is JsonRpcMessage => m?.method === "notifications/progress").map((m) => m.params!.progress as number);
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
const isResult = (id: string | number) => (_: SseEvent, m: JsonRpcMessage | null) => m !== null && m.id === id && (m.result !== undefined || m.error !== undefined);


/** The whole delivered sequence: before the disconnect plus after the resume, without priming events. */
function expectWhole(before: SseEvent[], after: SseEvent[], count: number, requestId: string | number) {
  const all = [...before, ...after];
  const ids = all.map((e) => e.id).filter((id): id is string => id !== undefined && id !== "");
  expect(new Set(ids).size, "no event id is delivered twice").toBe(ids.length);
  expect(progressOf(all), "every progress notification exactly once, in order").toEqual(range(1, count));
  const results = all.map(messageOf).filter((m) => m !== null && m.id === requestId);
  expect(results, "the result exactly once").toHaveLength(1);
  expect(JSON.stringify(results[0]!.result)).toContain(`emitted ${count}`);
  expect(messageOf(all.at(-1)!)?.id, "the result comes last").toBe(requestId);
}

/**
 * Writes `count` notifications into one stream of a session through the
 * event store's own key and id scheme (KvEventStore), then stores them in
 * bulk: one INSERT per 1,000 rows instead of 10,000 round trips.
 */
async function bulkEvents(server: TestServer, sessionId: string, streamId: string, count: number, clock: ManualClock) {
  const rows: { key: string; value: string; expiresAt: number }[] = [];
  const ttl = server.running.deps.config.eventTtlMs;
  const collecting = {
    async setMany(entries: { key: string; value: string }[]) {
      for (const { key, value } of entries) rows.push({ key, value, expiresAt: clock.now() + ttl });
    },
  } as unknown as KvStore;
  const store = new KvEventStore(collecting, sessionId, new PositionAllocator(clock, "bulk0000"), ttl);
  const ids: string[] = [];
  for (let i = 1; i <= count; i++) {
    ids.push(await store.storeEvent(streamId, { jsonrpc: "2.0", method: "notifications/message", params: { level: "info", data: i } } as JSONRPCMessage));
  }
  const db = server.running.deps.database.db;
  for (let i = 0; i < rows.length; i += 1000) await db.insert(kvStoreEntries).values(rows.slice(i, i + 1000));
  return ids;
}

/* ------------------------------------------------------- one server */

for (const driver of drivers()) {
  describe(`MCP resumability (${driver})`, () => {
    const clock = new ManualClock(Date.now()); // frozen: every event id of this suite is minted in one millisecond
    let server: TestServer;
    let base: string;
    let alice: TestUser;
    let token: string;

    beforeAll(async () => {
      server = await startTestServer(driver, { clock, gatehouse: { tools: [emit] } });
      base = server.base;
      alice = await addSignedInUser(server, "alice@example.com");
      token = (await grant(base, alice.jar)).access;
    });
    afterAll(async () => server?.close());

    it("streams progress bursts (fired together, same millisecond) in order, each once, with unique ids (LC-4, RES-1)", async () => {
      const session = await openSession(base, token, "2025-11-25");
      const call = emitCall({ count: 200, burst: 20 }, "bursts");
      const exchange = await sessionRpc(base, token, session, call);
      expect(exchange.status).toBe(200);
      const first = exchange.events[0]!;
      expect(first.id, "TR-8: a priming event with an id comes first").toBeTruthy();
      expect(first.data).toBe("");
      expect(progressOf(exchange.events)).toEqual(range(1, 200));
      const ids = exchange.events.map((e) => e.id).filter(Boolean);
      expect(new Set(ids).size).toBe(ids.length);
      // Replaying from the priming event gives the same sequence the live stream gave.
      const replay = await sessionGet(base, token, session, first.id!);
      expect(replay.status).toBe(200);
      const replayed = await new SseReader(replay).rest();
      expect(replayed.map((e) => e.id)).toEqual(exchange.events.slice(1).map((e) => e.id));
    });

    it("resumes after a mid-stream disconnect: the rest arrives in order, nothing lost or repeated (RES-3, RES-6, TR-11)", async () => {
      const session = await openSession(base, token, "2025-11-25");
      const run = newRun(`disconnect-${driver}`);
      const call = emitCall({ count: 40, pauseAfter: 20, run: `disconnect-${driver}` }, "p1");
      const abort = new AbortController();
      const reader = new SseReader(await sessionPost(base, token, session, call, { signal: abort.signal }));
      const before = await reader.until((_, m) => m?.method === "notifications/progress" && m.params?.progress === 20);
      abort.abort();
      await reader.ended;

      run.release(); // the disconnect did not cancel the call: it runs to the end
      await run.finished;
      const lastSeen = before.filter((e) => e.id).at(-1)!.id!;
      const resumed = await resumeStream(base, token, session, lastSeen);
      expect(resumed.status).toBe(200);
      const after = await new SseReader(resumed).until(isResult(call.id!));
      expect(progressOf(after)[0]).toBe(21);
      expectWhole(before, after, 40, call.id!);
    });

    it("resumes while the call still runs, then carries the rest live and ends after the result (TR-10)", async () => {
      const session = await openSession(base, token, "2025-11-25");
      const run = newRun(`live-${driver}`);
      const call = emitCall({ count: 30, pauseAfter: 10, run: `live-${driver}` }, "p2");
      const abort = new AbortController();
      const reader = new SseReader(await sessionPost(base, token, session, call, { signal: abort.signal }));
      const before = await reader.until((_, m) => m?.method === "notifications/progress" && m.params?.progress === 10);
      abort.abort();
      await reader.ended;

      const resumed = await resumeStream(base, token, session, before.filter((e) => e.id).at(-1)!.id!);
      expect(resumed.status).toBe(200);
      const live = new SseReader(resumed);
      run.release();
      const after = await live.until(isResult(call.id!));
      expectWhole(before, after, 30, call.id!);
      expect(await live.endsWithin(2000), "the resumed stream ends after the result").toBe(true);
    });

    it("replays a stream of 10,000 events written within one millisecond, whole and in order", async () => {
      const session = await openSession(base, token, "2025-11-25");
      const ids = await bulkEvents(server, session.id, "bulk-stream", 10_000, clock);
      const started = Date.now();
      const replay = await sessionGet(base, token, session, ids[0]!);
      expect(replay.status).toBe(200);
      const events = await new SseReader(replay).rest(30_000);
      const elapsed = Date.now() - started;
      expect(events.map((e) => e.id)).toEqual(ids.slice(1));
      expect(events.map((e) => (messageOf(e)?.params as { data: number }).data)).toEqual(range(2, 10_000));
      // From the middle too: exactly what follows.
      const middle = await sessionGet(base, token, session, ids[7_499]!);
      const tail = await new SseReader(middle).rest(30_000);
      expect(tail.map((e) => e.id)).toEqual(ids.slice(7_500));
      console.info(`[mcp-resume ${driver}] replayed 9,999 events over HTTP in ${elapsed} ms`);
    });

    it("replays nothing of another session for its event id (RES-4, THREATS 47)", async () => {
      const first = await openSession(base, token, "2025-11-25");
      const second = await openSession(base, token, "2025-11-25");
      const call = emitCall({ count: 5 }, "foreign");
      const exchange = await sessionRpc(base, token, first, call);
      const foreignIds = exchange.events.map((e) => e.id).filter((id): id is string => !!id);
      expect(foreignIds.length).toBeGreaterThan(1);
      for (const id of foreignIds.slice(0, 2)) {
        const response = await sessionGet(base, token, second, id);
        if (response.status === 200) {
          const events = await new SseReader(response).drain(500);
          expect(events.map((e) => e.data).join("\n"), "a foreign id replays nothing").not.toMatch(/notifications\/progress|emitted/);
        } else {
          expect(response.status).toBeGreaterThanOrEqual(400);
          expect(response.status).toBeLessThan(500);
          expect(await response.text()).not.toMatch(/notifications\/progress|emitted/);
        }
      }
    });

    it("answers a malformed or unknown Last-Event-ID with 4xx, not a hanging stream (RES-7)", async () => {
      const session = await openSession(base, token, "2025-11-25");
      const exchange = await sessionRpc(base, token, session, emitCall({ count: 2 }, "bogus"));
      const real = exchange.events.find((e) => e.id)!.id!;
      // Same shape as a real id, at a position that never held an event.
      const unknown = real.replace(/\d{13}(?=\d{6}[0-9a-z]{8}$)/, "0000000000001");
      expect(unknown).not.toBe(real);
      for (const id of ["bogus", "_GET_stream", unknown, `${real}x`, "x".repeat(600)]) {
        const response = await sessionGet(base, token, session, id);
        const text = await response.text();
        expect(response.status, `Last-Event-ID ${id.slice(0, 40)} → ${response.status} ${text.slice(0, 100)}`).toBeGreaterThanOrEqual(400);
        expect(response.status, id.slice(0, 40)).toBeLessThan(500);
      }
    });
  });
}

/* ------------------------------------------------------------ restarts */

describe("MCP resumability after a restart (pglite data directory)", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "gatehouse-resume-"));
  });

  // Opening a PGlite data directory is slow on a loaded machine: a generous bound.
  it("replays the rest of a stream from a new server process on the same data", { timeout: 90_000 }, async () => {
    const testDb = pgliteDataDir(dir);
    const first = await startTestServer("pglite", { testDb, gatehouse: { tools: [emit] } });
    let second: TestServer | null = null;
    try {
      const alice = await addSignedInUser(first, "alice@example.com");
      const { access } = await grant(first.base, alice.jar);
      const session = await openSession(first.base, access, "2025-11-25");
      const call = emitCall({ count: 12 }, "restart");
      const exchange = await sessionRpc(first.base, access, session, call);
      expect(progressOf(exchange.events)).toEqual(range(1, 12));
      const fourth = exchange.events.find((e) => messageOf(e)?.params?.progress === 4)!.id!;
      await first.close();

      const port = Number(new URL(first.base).port);
      second = await startTestServer("pglite", { testDb, gatehouse: { tools: [emit] }, config: { port, publicUrl: first.base } });
      const replay = await sessionGet(second.base, access, session, fourth);
      expect(replay.status).toBe(200);
      const after = await new SseReader(replay).rest();
      expect(after.map((e) => e.id)).toEqual(exchange.events.slice(exchange.events.findIndex((e) => e.id === fourth) + 1).map((e) => e.id));
      expect(progressOf(after)).toEqual(range(5, 12));
      expect(messageOf(after.at(-1)!)?.id).toBe(call.id);
    } finally {
      await first.close();
      await second?.close();
      await testDb.cleanup();
    }
  });
});

describe.runIf(drivers().includes("postgres"))("MCP resumability across nodes (postgres)", () => {
  const clock = new ManualClock(Date.now());
  let cluster: Cluster;
  let alice: TestUser;
  let token: string;

  beforeAll(async () => {
    cluster = await startCluster({ clock, gatehouse: { tools: [emit] } });
    alice = await addSignedInUser(cluster.a, "alice@example.com");
    token = (await grant(cluster.publicUrl, alice.jar)).access;
  });
  afterAll(async () => cluster?.close());

  it("replays on node B a stream that node A wrote", async () => {
    const session = await openSession(cluster.base("a"), token, "2025-11-25");
    const call = emitCall({ count: 15 }, "other-node");
    const exchange = await sessionRpc(cluster.base("a"), token, session, call);
    const third = exchange.events.find((e) => messageOf(e)?.params?.progress === 3)!.id!;
    const replay = await sessionGet(cluster.base("b"), token, session, third);
    expect(replay.status).toBe(200);
    const after = await new SseReader(replay).rest();
    expect(progressOf(after)).toEqual(range(4, 15));
    expect(messageOf(after.at(-1)!)?.id).toBe(call.id);
  });

  it("resumes on node B after a disconnect from node A mid-call, nothing lost or repeated", async () => {
    const session = await openSession(cluster.base("a"), token, "2025-11-25");
    const run = newRun("cross-node");
    const call = emitCall({ count: 24, pauseAfter: 8, run: "cross-node" }, "p3");
    const abort = new AbortController();
    const reader = new SseReader(await sessionPost(cluster.base("a"), token, session, call, { signal: abort.signal }));
    const before = await reader.until((_, m) => m?.method === "notifications/progress" && m.params?.progress === 8);
    abort.abort();
    await reader.ended;
    run.release();
    await run.finished;
    // Another node replays what is stored and closes; a client polls again until the result is there.
    const after: SseEvent[] = [];
    let lastSeen = before.filter((e) => e.id).at(-1)!.id!;
    const deadline = Date.now() + 10_000;
    while (!after.some((e) => messageOf(e)?.id === call.id) && Date.now() < deadline) {
      const response = await resumeStream(cluster.base("b"), token, session, lastSeen);
      expect(response.status).toBe(200);
      const got = await new SseReader(response).rest();
      after.push(...got);
      lastSeen = after.filter((e) => e.id).at(-1)?.id ?? lastSeen;
      if (!after.some((e) => messageOf(e)?.id === call.id)) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expectWhole(before, after, 24, call.id!);
  });

  it("replays after the writing node stopped, from a node started later", async () => {
    const writer = await cluster.start("c");
    const nodeC = cluster.base("c");
    const session = await openSession(nodeC, token, "2025-11-25");
    const call = emitCall({ count: 10 }, "restart-pg");
    const exchange = await sessionRpc(nodeC, token, session, call);
    const second = exchange.events.find((e) => messageOf(e)?.params?.progress === 2)!.id!;
    await writer.close();
    expect(await fetch(`${nodeC}/healthz`).then((r) => r.status), "the stopped node is gone").toBe(502);
    await cluster.start("c"); // a fresh process under the same route
    const replay = await sessionGet(nodeC, token, session, second);
    expect(replay.status).toBe(200);
    const after = await new SseReader(replay).rest();
    expect(progressOf(after)).toEqual(range(3, 10));
    expect(messageOf(after.at(-1)!)?.id).toBe(call.id);
  });
});

/* ------------------------------------------------- the event store itself */

describe("PositionAllocator", () => {
  it("hands out strictly increasing, fixed-width positions within one millisecond", () => {
    const clock = new ManualClock(1_700_000_000_000);
    const positions = new PositionAllocator(clock, "node0001");
    const all = Array.from({ length: 10_000 }, () => positions.next());
    for (let i = 1; i < all.length; i++) expect(all[i]! > all[i - 1]!, `${all[i - 1]} < ${all[i]}`).toBe(true);
    expect(new Set(all.map((p) => p.length)).size).toBe(1);
  });

  it("stays increasing when the clock steps back, and past a million positions in one millisecond", () => {
    const clock = new ManualClock(1_700_000_000_000);
    const positions = new PositionAllocator(clock, "node0001");
    const a = positions.next();
    clock.advance(-5_000);
    const b = positions.next();
    expect(b > a).toBe(true);
    let previous = b;
    for (let i = 0; i < 1_000_001; i++) {
      const next = positions.next();
      if (!(next > previous)) expect.fail(`position ${i}: ${next} is not after ${previous}`);
      previous = next;
    }
  });

  it("never collides between two allocators with different node ids on the same clock", () => {
    const clock = new ManualClock(1_700_000_000_000);
    const one = new PositionAllocator(clock, "aaaaaaaa");
    const two = new PositionAllocator(clock, "bbbbbbbb");
    const seen = new Set<string>();
    for (let i = 0; i < 5_000; i++) {
      for (const position of [one.next(), two.next()]) {
        expect(seen.has(position), position).toBe(false);
        seen.add(position);
      }
      if (i % 1000 === 999) clock.advance(1);
    }
  });

  it("refuses a node id that would break the fixed width", () => {
    const clock = new ManualClock();
    for (const id of ["", "short", "toolongnodeid", "UPPERCAS", "with:col"]) expect(() => new PositionAllocator(clock, id), id).toThrow();
  });
});

describe("KvEventStore", () => {
  const note = (n: number) => ({ jsonrpc: "2.0", method: "notifications/message", params: { level: "info", data: n } }) as JSONRPCMessage;
  const setup = () => {
    const clock = new ManualClock(1_700_000_000_000);
    const kv = new MemoryKvStore(clock);
    const positions = new PositionAllocator(clock, "unit0001");
    return { clock, kv, positions, store: (session: string) => new KvEventStore(kv, session, positions, 60_000) };
  };
  const replay = async (store: KvEventStore, after: string) => {
    const sent: { id: string; message: JSONRPCMessage }[] = [];
    const stream = await store.replayEventsAfter(after, {
      send: async (id, message) => {
        sent.push({ id, message });
      },
    });
    return { stream, sent };
  };

  it("writes a priming event together with the next event of the session (one round trip), or alone soon after", async () => {
    const { kv, store } = setup();
    const writes: string[][] = [];
    const setMany = kv.setMany.bind(kv);
    kv.setMany = async (entries, options) => {
      writes.push(entries.map((e) => e.value));
      return setMany(entries, options);
    };
    const events = store("session-p");
    const priming = await events.storeEvent("call", {} as JSONRPCMessage);
    expect(writes, "the priming id is handed out before it is stored").toEqual([]);
    expect(await events.getStreamIdForEventId(priming), "this node resolves it meanwhile").toBe("call");
    await events.storeEvent("call", note(1));
    expect(writes).toEqual([["{}", JSON.stringify(note(1))]]);
    expect(await kv.get(`mcp:event:session-p:call:${priming.split(".").at(-1)}`)).toBe("{}");

    const lonely = await events.storeEvent("slow", {} as JSONRPCMessage);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(writes.at(-1)).toEqual(["{}"]);
    expect(await store("session-p").getStreamIdForEventId(lonely), "stored: another node resolves it").toBe("slow");
  });

  it("keeps the order of concurrent writes: ids increase in the order the stream receives them", async () => {
    const { store } = setup();
    const events = store("session-q");
    const order: string[] = [];
    await Promise.all(Array.from({ length: 50 }, (_, i) => events.storeEvent("s", note(i)).then((id) => order.push(id))));
    expect(order).toEqual([...order].sort());
    const { sent } = await replay(events, order[0]!);
    expect(sent.map((e) => e.id)).toEqual(order.slice(1));
  });

  it("replays only the named stream, after the id, in order, skipping priming events", async () => {
    const { store } = setup();
    const events = store("session-a");
    const ids: Record<string, string[]> = { one: [], two: [] };
    ids.one!.push(await events.storeEvent("one", {} as JSONRPCMessage)); // a priming event
    for (let i = 1; i <= 6; i++) {
      ids.one!.push(await events.storeEvent("one", note(i)));
      ids.two!.push(await events.storeEvent("two", note(100 + i)));
    }
    const { stream, sent } = await replay(events, ids.one![0]!);
    expect(stream).toBe("one");
    expect(sent.map((e) => e.id)).toEqual(ids.one!.slice(1));
    expect(sent.map((e) => (e.message as unknown as { params: { data: number } }).params.data)).toEqual(range(1, 6));
    expect(await events.getStreamIdForEventId(ids.two![2]!)).toBe("two");
  });

  it("resolves stream ids containing '_', '.', '-' and ':' without mixing streams (THREATS 48)", async () => {
    const { store } = setup();
    const events = store("session-b");
    const names = ["_GET_stream", "a.b", "a", "a:b", "x_y-z", "8d6f0a4e-1c2b-4e0f-9a7d-0123456789ab"];
    const ids = new Map<string, string[]>();
    for (let i = 0; i < 4; i++) {
      for (const name of names) ids.set(name, [...(ids.get(name) ?? []), await events.storeEvent(name, note(i))]);
    }
    for (const name of names) {
      const own = ids.get(name)!;
      expect(await events.getStreamIdForEventId(own[0]!), name).toBe(name);
      const { stream, sent } = await replay(events, own[0]!);
      expect(stream, name).toBe(name);
      expect(sent.map((e) => e.id), `stream "${name}" replays its own events only`).toEqual(own.slice(1));
    }
  });

  it("never resolves or replays another session's event id", async () => {
    const { store } = setup();
    const a = store("session-a");
    const b = store("session-b");
    const foreign: string[] = [];
    for (let i = 0; i < 5; i++) foreign.push(await a.storeEvent("_GET_stream", note(i)));
    await b.storeEvent("_GET_stream", note(99));
    expect(await b.getStreamIdForEventId(foreign[0]!)).toBeUndefined();
    const replayed = await replay(b, foreign[0]!).catch(() => ({ sent: [] as { id: string; message: JSONRPCMessage }[] }));
    expect(replayed.sent.map((e) => e.id).filter((id) => foreign.includes(id))).toEqual([]);
    expect(JSON.stringify(replayed.sent)).not.toMatch(/"data":[0-4]\b/);
  });

  it("replays 10,000 events written in one millisecond whole and in order", async () => {
    const { store } = setup();
    const events = store("session-c");
    const ids: string[] = [];
    for (let i = 1; i <= 10_000; i++) ids.push(await events.storeEvent("big", note(i)));
    const { sent } = await replay(events, ids[0]!);
    expect(sent).toHaveLength(9_999);
    expect(sent.map((e) => e.id)).toEqual(ids.slice(1));
  });

  it("answers a malformed id with undefined (lookup) and an error (replay)", async () => {
    const { store } = setup();
    const events = store("session-d");
    for (const id of ["bogus", "", ".", "stream.123", "x".repeat(1000)]) {
      expect(await events.getStreamIdForEventId(id), id.slice(0, 20)).toBeUndefined();
      await expect(replay(events, id), id.slice(0, 20)).rejects.toThrow();
    }
  });

  it("forgets events after their time to live", async () => {
    const { clock, store } = setup();
    const events = store("session-e");
    const first = await events.storeEvent("s", note(1));
    await events.storeEvent("s", note(2));
    clock.advance(60_001);
    expect(await events.getStreamIdForEventId(first)).toBeUndefined();
    const { sent } = await replay(events, first).catch(() => ({ sent: [] as unknown[] }));
    expect(sent).toEqual([]);
  });
});
