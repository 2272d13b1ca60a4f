/**
 * Start-up time to ready, and KV throughput with the in-memory KV as the
 * baseline. Opening PGlite costs seconds (WASM compile), so the last server
 * started per backend stays up: the KV, MCP, event and memory sections all
 * run against it.
 */
import { systemClock } from "../src/clock.js";
import { loadConfig } from "../src/config.js";
import { unlimited } from "../src/storage/rate-limit.js";
import type { RunningServer } from "../src/server.js";
import { openDatabase } from "../src/storage/db.js";
import type { KvStore } from "../src/storage/kv/kv.js";
import { MemoryKvStore } from "../src/storage/kv/memory.js";
import { PostgresKvStore } from "../src/storage/kv/postgres.js";
import { migrate } from "../src/storage/migrate.js";
import { fmtOps, fmtRatio, freePort, median, opsPerSecond, row, timeToReady } from "./lib.js";
import { echoTool } from "./mcp.js";

const OPS = 2_000;
const CONCURRENCY = 32;
const RUNS = 3;
/** A cell stops early after this long; its rate stays valid, and slow backends keep the run within budget. */
const CELL_BUDGET_MS = 1_000;
const VALUE = JSON.stringify({ purpose: "bench", padding: "x".repeat(80) }); // about the size of a code or setup record

export type Data = { dataDir: string; databaseUrl?: string };

export function printStartupHeader(): void {
  console.log(`Start-up: startServer() → first /readyz 200 (warm: median of ${RUNS} restarts on the same data)\n`);
  console.log(row(["backend", "first start", "warm"]));
}

/**
 * One start on fresh data (runs every migration), then RUNS restarts on it;
 * the last server stays up and is returned. Every start serves the bench's
 * echo tool, with the sign-in and registration rate limits off (the bench
 * signs in once per section, from one address) and no periodic sweep.
 */
export async function startup(label: string, data: Data): Promise<RunningServer> {
  const port = await freePort();
  // The memory section opens 200 sessions for one user: above the default per-user cap (100), which would evict
  // half of them and leave the calls that follow measuring 404s.
  const mcpLimits = { maxSessionsPerUser: 1000 };
  const config = loadConfig({}, { port, host: "127.0.0.1", publicUrl: `http://127.0.0.1:${port}`, logLevel: "silent", mcpLimits, ...data });
  const options = {
    // The expiry sweep (every 60 s by default) drops idle live sessions: not mid-measurement.
    gatehouse: { tools: [echoTool], sweepIntervalMs: 60 * 60 * 1000 },
    appDeps: { rateLimits: { register: unlimited, loginByIp: unlimited, loginByAccount: unlimited } },
    drainMs: 200,
  };
  const first = await timeToReady(config, options);
  await first.running.close();
  const warm: number[] = [];
  let last = first;
  for (let i = 0; i < RUNS; i++) {
    if (i > 0) await last.running.close();
    last = await timeToReady(config, options);
    warm.push(last.ms);
  }
  console.log(row([label, `${first.ms.toFixed(0)} ms`, `${median(warm).toFixed(0)} ms`]));
  return last.running;
}

/** set, then get of every key set, then getDel of every key; each pass capped at CELL_BUDGET_MS. */
async function measure(kv: KvStore, prefix: string, concurrency: number, ops = OPS): Promise<number[]> {
  const key = (i: number) => `${prefix}:${i.toString().padStart(6, "0")}`;
  const set = await opsPerSecond(ops, concurrency, (i) => kv.set(key(i), VALUE, { ttlMs: 60_000 }), CELL_BUDGET_MS);
  const get = await opsPerSecond(set.count, concurrency, (i) => kv.get(key(i)), CELL_BUDGET_MS);
  const getDel = await opsPerSecond(set.count, concurrency, (i) => kv.getDel(key(i)), CELL_BUDGET_MS);
  return [set.perSecond, get.perSecond, getDel.perSecond];
}

export function printKvHeader(): void {
  console.log(`\nKV operations per second, up to ${OPS.toLocaleString("en-US")} ops per cell, × = ratio to the in-memory store\n`);
  console.log(row(["backend", "callers", "set", "×", "get", "×", "getDel", "×"]));
}

const baseline = new Map<number, number[]>();
async function throughput(label: string, kv: KvStore): Promise<void> {
  await measure(kv, "warmup", 8, 100); // JIT, pool connections, caches
  for (const concurrency of [1, CONCURRENCY]) {
    const result = await measure(kv, `bench:${concurrency}`, concurrency);
    if (!baseline.has(concurrency)) baseline.set(concurrency, result);
    const base = baseline.get(concurrency)!;
    const mode = concurrency === 1 ? "sequential" : `${concurrency} callers`;
    console.log(row([label, mode, ...result.flatMap((ops, i) => [fmtOps(ops), fmtRatio(ops / base[i]!)])]));
  }
}

/** The in-memory store (baseline), PGlite in memory, then each running server's own KV. */
export async function kvThroughput(servers: [string, RunningServer][]): Promise<void> {
  await throughput("memory", new MemoryKvStore(systemClock));
  const database = await openDatabase({ driver: "pglite-memory" });
  try {
    await migrate(database);
    await throughput("pglite (memory)", new PostgresKvStore(database.db, systemClock));
  } finally {
    await database.close();
  }
  for (const [label, running] of servers) await throughput(label, running.deps.kv);
}
