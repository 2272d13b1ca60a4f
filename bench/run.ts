/**
 * `npm run bench`: start-up time to ready and KV throughput, on PGlite (in
 * memory and on disk) and on PostgreSQL when 127.0.0.1:5432 (or
 * TEST_DATABASE_URL) answers, with the in-memory KV as the baseline.
 * Bounded: a watchdog ends the run after 60 s; rows print as they finish.
 * Opening PGlite costs seconds (WASM compile), so the KV rows of the on-disk
 * backends reuse the server left running by the last start-up measurement.
 */
import { systemClock } from "../src/clock.js";
import { loadConfig } from "../src/config.js";
import { openDatabase } from "../src/storage/db.js";
import type { KvStore } from "../src/storage/kv/kv.js";
import { MemoryKvStore } from "../src/storage/kv/memory.js";
import { PostgresKvStore } from "../src/storage/kv/postgres.js";
import { migrate } from "../src/storage/migrate.js";
import { fmtOps, fmtRatio, freshPostgres, median, opsPerSecond, postgresAnswers, row, tempDir, timeToReady } from "./lib.js";

const OPS = 2_000;
const CONCURRENCY = 32;
const RUNS = 3;
/** A cell stops early after this long; its rate stays valid, and slow backends keep the run under 60 s. */
const CELL_BUDGET_MS = 1_000;
const VALUE = JSON.stringify({ purpose: "bench", padding: "x".repeat(80) }); // about the size of a code or setup record

const adminUrl = process.env.TEST_DATABASE_URL || "postgres://postgres@127.0.0.1:5432/postgres";
const postgres = await postgresAnswers(adminUrl);
const cleanups: (() => Promise<void>)[] = [];
const cleanUp = async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch((error: unknown) => console.error("bench: cleanup failed:", error));
};

let stopping = false;
const watchdog = setTimeout(() => {
  stopping = true;
  console.error("\nbench: over the 60 s budget, stopping");
  // Drop the databases and temp dirs even so; give that 5 s at most.
  void Promise.race([cleanUp(), new Promise((resolve) => setTimeout(resolve, 5_000))]).then(() => process.exit(1));
}, 60_000);
watchdog.unref();

type Data = { dataDir: string; databaseUrl?: string };
type Kv = { kv: KvStore; close: () => Promise<void> };

async function freshDir(): Promise<Data> {
  const temp = await tempDir();
  cleanups.push(temp.remove);
  return { dataDir: temp.dir };
}

async function freshPostgresData(): Promise<Data> {
  const db = await freshPostgres(adminUrl);
  cleanups.push(db.drop);
  return { ...(await freshDir()), databaseUrl: db.url };
}

/** One start on fresh data (runs every migration), then RUNS restarts on it; the last server stays up. */
async function startup(label: string, data: Data): Promise<Kv> {
  const config = loadConfig({}, { port: 0, host: "127.0.0.1", logLevel: "silent", ...data });
  const first = await timeToReady(config);
  await first.running.close();
  const warm: number[] = [];
  let last = first;
  for (let i = 0; i < RUNS; i++) {
    if (i > 0) await last.running.close();
    last = await timeToReady(config);
    warm.push(last.ms);
  }
  console.log(row([label, `${first.ms.toFixed(0)} ms`, `${median(warm).toFixed(0)} ms`]));
  return { kv: last.running.deps.kv, close: () => last.running.close() };
}

/** set, then get of every key set, then getDel of every key; each pass capped at CELL_BUDGET_MS. */
async function measure(kv: KvStore, prefix: string, concurrency: number, ops = OPS): Promise<number[]> {
  const key = (i: number) => `${prefix}:${i.toString().padStart(6, "0")}`;
  const set = await opsPerSecond(ops, concurrency, (i) => kv.set(key(i), VALUE, { ttlMs: 60_000 }), CELL_BUDGET_MS);
  const get = await opsPerSecond(set.count, concurrency, (i) => kv.get(key(i)), CELL_BUDGET_MS);
  const getDel = await opsPerSecond(set.count, concurrency, (i) => kv.getDel(key(i)), CELL_BUDGET_MS);
  return [set.perSecond, get.perSecond, getDel.perSecond];
}

const baseline = new Map<number, number[]>();
async function throughput(label: string, open: () => Promise<Kv>): Promise<void> {
  const { kv, close } = await open();
  try {
    await measure(kv, "warmup", 8, 100); // JIT, pool connections, caches
    for (const concurrency of [1, CONCURRENCY]) {
      const result = await measure(kv, `bench:${concurrency}`, concurrency);
      if (!baseline.has(concurrency)) baseline.set(concurrency, result);
      const base = baseline.get(concurrency)!;
      const mode = concurrency === 1 ? "sequential" : `${concurrency} callers`;
      console.log(row([label, mode, ...result.flatMap((ops, i) => [fmtOps(ops), fmtRatio(ops / base[i]!)])]));
    }
  } finally {
    await close();
  }
}

async function main(): Promise<void> {
  const servers: [string, Kv][] = [];
  try {
    console.log(`Start-up: startServer() → first /readyz 200 (warm: median of ${RUNS} restarts on the same data)\n`);
    console.log(row(["backend", "first start", "warm"]));
    servers.push(["pglite (disk)", await startup("pglite (disk)", await freshDir())]);
    if (postgres) servers.push(["postgres", await startup("postgres", await freshPostgresData())]);

    console.log(`\nKV operations per second, up to ${OPS.toLocaleString("en-US")} ops per cell, × = ratio to the in-memory store\n`);
    console.log(row(["backend", "callers", "set", "×", "get", "×", "getDel", "×"]));
    await throughput("memory", async () => ({ kv: new MemoryKvStore(systemClock), close: async () => {} }));
    await throughput("pglite (memory)", async () => {
      const database = await openDatabase({ driver: "pglite-memory" });
      await migrate(database);
      return { kv: new PostgresKvStore(database.db, systemClock), close: () => database.close() };
    });
    while (servers.length > 0) {
      const [label, server] = servers.shift()!;
      await throughput(label, async () => server);
    }
    if (!postgres) console.log(`\n(PostgreSQL did not answer at ${new URL(adminUrl).host}: its rows are skipped)`);
  } finally {
    for (const [, server] of servers) await server.close().catch(() => {});
    await cleanUp();
  }
}

await main().catch((error: unknown) => {
  // After the watchdog fired, failures are the expected fallout of dropping the databases under the run.
  if (stopping) return;
  console.error("bench failed:", error);
  process.exitCode = 1;
});
