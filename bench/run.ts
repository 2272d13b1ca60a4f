/**
 * `npm run bench` (node --expose-gc): on PGlite (on disk) and on PostgreSQL
 * when 127.0.0.1:5432 (or TEST_DATABASE_URL) answers, each on fresh data,
 * against real servers on loopback:
 *   1. start-up time to ready, and KV throughput (in-memory KV as baseline);
 *   2. authenticated tools/call for both protocol generations, next to a
 *      bare Hono handler and the SDK's stateless and session references;
 *   3. gateway mode: proxied tools/call overhead over calling the upstream directly;
 *   4. event store append and 10,000-event replay;
 *   5. heap per idle legacy session, and per call for both generations.
 * Bounded: a watchdog ends the run after 350 s; rows print as they finish;
 * every server, database and the load-generator child are closed at the end.
 * `BENCH_SECTIONS=mcp` (a comma list of kv, mcp, gateway, events, memory)
 * runs only those after start-up; unset, every section runs. Memory needs the
 * mcp section's servers and tokens, so it brings that section along.
 */
import { LIVE_IDLE_MS } from "../src/mcp/legacy.js";
import type { RunningServer } from "../src/server.js";
import type { Served } from "./baselines.js";
import * as events from "./events.js";
import * as gateway from "./gateway.js";
import { freshPostgres, postgresAnswers, tempDir } from "./lib.js";
import { LoadClient } from "./loadgen.js";
import * as mcp from "./mcp.js";
import * as memory from "./memory.js";
import { kvThroughput, printKvHeader, printStartupHeader, startup, type Data } from "./storage.js";

const BUDGET_MS = 350_000;
const SECTIONS = ["kv", "mcp", "gateway", "events", "memory"] as const;
const chosen = process.env.BENCH_SECTIONS?.split(",").map((name) => name.trim()).filter(Boolean);
const unknown = chosen?.filter((name) => !(SECTIONS as readonly string[]).includes(name));
if (unknown?.length) throw new Error(`BENCH_SECTIONS: unknown ${unknown.join(", ")} (known: ${SECTIONS.join(", ")})`);
const runs = (section: (typeof SECTIONS)[number]) =>
  !chosen || chosen.includes(section) || (section === "mcp" && chosen.includes("memory"));
const needsServers = (["kv", "mcp", "events", "memory"] as const).some(runs);
const adminUrl = process.env.TEST_DATABASE_URL || "postgres://postgres@127.0.0.1:5432/postgres";
const postgres = await postgresAnswers(adminUrl);
const cleanups: (() => Promise<void>)[] = [];
const cleanUp = async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch((error: unknown) => console.error("bench: cleanup failed:", error));
};

let stopping = false;
const watchdog = setTimeout(() => {
  stopping = true;
  console.error(`\nbench: over the ${BUDGET_MS / 1000} s budget, stopping`);
  // Close servers and drop the databases and temp dirs even so; give that 10 s at most.
  void Promise.race([cleanUp(), new Promise((resolve) => setTimeout(resolve, 10_000))]).then(() => process.exit(1));
}, BUDGET_MS);
watchdog.unref();

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

const started = performance.now();
/** Seconds since the start, so a slow section shows where the budget went. */
const at = () => `[${((performance.now() - started) / 1000).toFixed(0)} s]`;

async function main(): Promise<void> {
  const load = LoadClient.start();
  cleanups.push(() => load.close());
  const servers: [string, RunningServer][] = [];
  const keep = async (label: string, data: Data) => {
    const running = await startup(label, data);
    cleanups.push(() => running.close());
    servers.push([label, running]);
  };

  if (needsServers) {
    printStartupHeader();
    await keep("pglite (disk)", await freshDir());
    if (postgres) await keep("postgres", await freshPostgresData());
  }

  if (runs("kv")) {
    console.log(at());
    printKvHeader();
    await kvThroughput(servers);
  }

  let measuredMcp: Awaited<ReturnType<typeof mcp.measureAll>> | undefined;
  if (runs("mcp")) {
    console.log(at());
    mcp.printHeader();
    const baselineServers: Served[] = [];
    cleanups.push(async () => {
      for (const served of baselineServers) await served.close();
    });
    measuredMcp = await mcp.measureAll(load, baselineServers, servers);
    mcp.printRatios(measuredMcp.base, measuredMcp.calls);
  }

  if (runs("gateway")) {
    console.log(at());
    gateway.printHeader();
    await gateway.measureGateway(load, async () => (await freshDir()).dataDir, (served) => cleanups.push(() => served.close()));
  }

  if (runs("events")) {
    console.log(at());
    events.printHeader();
    for (const [label, running] of servers) await events.measureEvents(label, running);
  }

  if (!runs("memory")) {
    // Left out on request.
  } else if (!memory.canMeasure()) {
    console.log("\nMemory: skipped (run with node --expose-gc, as `npm run bench` does)");
  } else if (measuredMcp) {
    console.log(at());
    memory.printHeader();
    const { base: baselines, calls } = measuredMcp;
    const ref = baselines.sessionServer;
    const refHeaders = mcp.requestHeaders(null);
    const { ids: [refSession] } = await memory.sessionMemory(load, "SDK session (no auth)", ref.url, refHeaders, () => ref.sessions());
    memory.referenceIdle("SDK session (no auth)", memory.lastSessionKb());
    await memory.callGrowth(load, "SDK session (no auth)", mcp.legacyCall(ref.url, null, refSession!), "2025 calls");
    await memory.callGrowth(load, "SDK stateless (no auth)", mcp.modernCall(baselines.statelessServer.url, null), "2026 calls");
    for (const [i, [label, running]] of servers.entries()) {
      const url = `${running.url}/mcp`;
      const token = calls[i]!.token;
      const live = () => running.services.mcp.legacy.size;
      const { ids: [session], before } = await memory.sessionMemory(load, `Gatehouse ${label}`, url, mcp.requestHeaders(token), live);
      await memory.idleSessionMemory(`Gatehouse ${label}`, before, LIVE_IDLE_MS, () => running.services.mcp.sweep(), live);
      await memory.callGrowth(load, `Gatehouse ${label}`, mcp.legacyCall(url, token, session!), "2025 calls");
      running.services.mcp.legacy.jsonAnswers = true;
      await memory.callGrowth(load, `Gatehouse ${label}`, mcp.legacyCall(url, token, session!), "2025 calls, JSON answers");
      running.services.mcp.legacy.jsonAnswers = running.deps.config.mcpJsonAnswers;
      await memory.callGrowth(load, `Gatehouse ${label}`, mcp.modernCall(url, token), "2026 calls");
    }
  }

  finish();
}

function finish(): void {
  if (!postgres) console.log(`\n(PostgreSQL did not answer at ${new URL(adminUrl).host}: its rows are skipped)`);
  console.log(`\nbench: done ${at()}`);
}

try {
  await main();
} catch (error) {
  // After the watchdog fired, failures are the expected fallout of closing everything under the run.
  if (!stopping) {
    console.error("bench failed:", error);
    process.exitCode = 1;
  }
} finally {
  if (!stopping) await cleanUp();
  clearTimeout(watchdog);
}
