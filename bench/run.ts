/**
 * `npm run bench`: start-up time to ready and KV throughput, on PGlite (in
 * memory and on disk) and on PostgreSQL when 127.0.0.1:5432 (or
 * TEST_DATABASE_URL) answers, with the in-memory KV as the baseline.
 * Bounded: a watchdog ends the run after 60 s; rows print as they finish.
 */
import { systemClock } from "../src/clock.js";
import { loadConfig } from "../src/config.js";
import { openDatabase, type OpenDatabaseOptions } from "../src/storage/db.js";
import type { KvStore } from "../src/storage/kv/kv.js";
import { MemoryKvStore } from "../src/storage/kv/memory.js";
import { PostgresKvStore } from "../src/storage/kv/postgres.js";
import { migrate } from "../src/storage/migrate.js";
import { fmtOps, fmtRatio, freshPostgres, median, opsPerSecond, postgresAnswers, row, tempDir, timeToReady } from "./lib.js";

const OPS = 2_000;
const CONCURRENCY = 32;
const RUNS = 3;
const VALUE = JSON.stringify({ purpose: "bench", padding: "x".repeat(80) }); // about the size of a code or setup record

const watchdog = setTimeout(() => {
  console.error("\nbench: over the 60 s budget, stopping");
  process.exit(1);
}, 60_000);
watchdog.unref();

const adminUrl = process.env.TEST_DATABASE_URL || "postgres://postgres@127.0.0.1:5432/postgres";
const postgres = await postgresAnswers(adminUrl);
const cleanups: (() => Promise<void>)[] = [];

type Data = { dataDir: string; databaseUrl?: string };

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

/** Median of RUNS starts on fresh data (every migration runs), then of RUNS restarts on the last one. */
async function startup(label: string, fresh: () => Promise<Data>): Promise<void> {
  const config = (data: Data) => loadConfig({}, { port: 0, host: "127.0.0.1", logLevel: "silent", ...data });
  const cold: number[] = [];
  let data: Data = { dataDir: "" };
  for (let i = 0; i < RUNS; i++) cold.push(await timeToReady(config((data = await fresh()))));
  const warm: number[] = [];
  for (let i = 0; i < RUNS; i++) warm.push(await timeToReady(config(data)));
  console.log(row([label, `${median(cold).toFixed(0)} ms`, `${median(warm).toFixed(0)} ms`]));
}

async function onDatabase(options: OpenDatabaseOptions): Promise<{ kv: KvStore; close: () => Promise<void> }> {
  const database = await openDatabase(options);
  await migrate(database);
  return { kv: new PostgresKvStore(database.db, systemClock), close: () => database.close() };
}

const backends: [string, () => Promise<{ kv: KvStore; close: () => Promise<void> }>][] = [
  ["memory", async () => ({ kv: new MemoryKvStore(systemClock), close: async () => {} })],
  ["pglite (memory)", () => onDatabase({ driver: "pglite-memory" })],
  ["pglite (disk)", async () => onDatabase({ driver: "pglite", dataDir: (await freshDir()).dataDir })],
];
if (postgres) backends.push(["postgres", async () => onDatabase({ driver: "postgres", url: (await freshPostgresData()).databaseUrl! })]);

/** A full pass of set, then get of every key set, then getDel of every key. */
async function measure(kv: KvStore, prefix: string, concurrency: number): Promise<number[]> {
  const key = (i: number) => `${prefix}:${i.toString().padStart(6, "0")}`;
  return [
    await opsPerSecond(OPS, concurrency, (i) => kv.set(key(i), VALUE, { ttlMs: 60_000 })),
    await opsPerSecond(OPS, concurrency, (i) => kv.get(key(i))),
    await opsPerSecond(OPS, concurrency, (i) => kv.getDel(key(i))),
  ];
}

async function kvThroughput(): Promise<void> {
  const baseline = new Map<number, number[]>();
  for (const [label, open] of backends) {
    const { kv, close } = await open();
    try {
      await measure(kv, "warmup", 8); // JIT, pool connections, caches
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
}

try {
  console.log(`Start-up: startServer() → first /readyz 200, median of ${RUNS}`);
  console.log("(cold: fresh data, every migration runs; warm: restart on the same data)\n");
  console.log(row(["backend", "cold", "warm"]));
  await startup("pglite (disk)", freshDir);
  if (postgres) await startup("postgres", freshPostgresData);

  console.log(`\nKV operations per second, ${OPS.toLocaleString("en-US")} ops per cell, × = ratio to the in-memory store\n`);
  console.log(row(["backend", "callers", "set", "×", "get", "×", "getDel", "×"]));
  await kvThroughput();
  if (!postgres) console.log(`\n(PostgreSQL did not answer at ${new URL(adminUrl).host}: its rows are skipped)`);
} finally {
  for (const cleanup of cleanups.reverse()) await cleanup().catch((error: unknown) => console.error("bench: cleanup failed:", error));
}
