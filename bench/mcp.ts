/**
 * Authenticated `tools/call` throughput, p50/p99 and server CPU per request,
 * for both protocol generations, next to the baselines of bench/baselines.ts
 * measured in the same run; then the ratios PRODUCT §7 sets targets for.
 * 2026-07-28 runs at 10 and 50 concurrent callers (issue 10's two loads), the
 * 2025 sessions at 16 and 50; both generations in interleaved slices.
 */
import { z } from "zod";
import { defineTool } from "../src/mcp/define.js";
import type { RunningServer } from "../src/server.js";
import { accessToken } from "./auth.js";
import { bareHono, sdkSessions, sdkStateless, type Served } from "./baselines.js";
import { fmtOps, fmtRatio } from "./lib.js";
import type { RunSpec } from "./load.js";
import type { LoadClient, Measured } from "./loadgen.js";

/** Callers for the 2025 session rows and the memory section. */
export const CONCURRENCY = 16;
/** Callers for the 2026-07-28 rows: each is measured at every one of these. */
export const MODERN_CONCURRENCY = [10, 50] as const;
type ModernConcurrency = (typeof MODERN_CONCURRENCY)[number];
type PerConcurrency = Record<ModernConcurrency, Measured>;
/** Callers for the 2025 session rows: the memory section's load, and issue 10's high load (its p99 target). */
export const LEGACY_CONCURRENCY = [CONCURRENCY, 50] as const;
type PerLegacyConcurrency = Record<(typeof LEGACY_CONCURRENCY)[number], Measured>;
const MEASURE_MS = 3_000;
const WARMUP_MS = 500;
export const MODERN = "2026-07-28";
export const LEGACY = "2025-11-25";
const ECHO = "bench-echo";

export const echoTool = defineTool({
  name: "echo",
  description: "Echoes its text.",
  input: z.object({ text: z.string() }),
  handler: ({ text }) => ({ content: [{ type: "text", text }] }),
});

export const requestHeaders = (token: string | null): Record<string, string> => ({
  "content-type": "application/json",
  accept: "application/json, text/event-stream",
  ...(token ? { authorization: `Bearer ${token}` } : {}),
});

/** A 2026-07-28 `tools/call`: the `_meta` envelope in the body, the version, method and name in headers. */
export function modernCall(url: string, token: string | null): Omit<RunSpec, "concurrency" | "durationMs" | "maxRequests"> {
  const meta = {
    "io.modelcontextprotocol/protocolVersion": MODERN,
    "io.modelcontextprotocol/clientInfo": { name: "bench", version: "1.0.0" },
    "io.modelcontextprotocol/clientCapabilities": {},
  };
  return {
    url,
    headers: { ...requestHeaders(token), "mcp-protocol-version": MODERN, "mcp-method": "tools/call", "mcp-name": "echo" },
    body: JSON.stringify({ jsonrpc: "2.0", id: "__ID__", method: "tools/call", params: { name: "echo", arguments: { text: ECHO }, _meta: meta } }),
    expectStatus: 200,
    expectText: `"text":"${ECHO}"`,
  };
}

/** A `tools/call` within a 2025-11-25 session (the answer comes as JSON or SSE, as the server chooses). */
export function legacyCall(url: string, token: string | null, sessionId: string): Omit<RunSpec, "concurrency" | "durationMs" | "maxRequests"> {
  return {
    url,
    headers: { ...requestHeaders(token), "mcp-protocol-version": LEGACY, "mcp-session-id": sessionId },
    body: JSON.stringify({ jsonrpc: "2.0", id: "__ID__", method: "tools/call", params: { name: "echo", arguments: { text: ECHO } } }),
    expectStatus: 200,
    expectText: `"text":"${ECHO}"`,
  };
}

export type Call = Omit<RunSpec, "concurrency" | "durationMs" | "maxRequests">;

export async function measureCalls(load: LoadClient, call: Call, concurrency: number = CONCURRENCY): Promise<Measured> {
  await load.run({ ...call, concurrency, durationMs: WARMUP_MS, maxRequests: Number.MAX_SAFE_INTEGER });
  return load.run({ ...call, concurrency, durationMs: MEASURE_MS, maxRequests: Number.MAX_SAFE_INTEGER });
}

/** Modern rows are measured in this many interleaved slices per server (see measureModern). */
const ROUNDS = 3;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** One row from several slices: medians of the rates and latencies, sums of the counts. */
function combine(slices: Measured[]): Measured {
  const first = slices[0]!;
  return {
    ...first,
    count: slices.reduce((sum, m) => sum + m.count, 0),
    errors: slices.reduce((sum, m) => sum + m.errors, 0),
    firstError: slices.find((m) => m.firstError)?.firstError ?? null,
    elapsedMs: slices.reduce((sum, m) => sum + m.elapsedMs, 0),
    perSecond: median(slices.map((m) => m.perSecond)),
    cpuUsPerRequest: median(slices.map((m) => m.cpuUsPerRequest)),
    latenciesMs: { p50: median(slices.map((m) => m.latenciesMs.p50)), p99: median(slices.map((m) => m.latenciesMs.p99)) },
  };
}

export interface ModernTarget {
  label: string;
  call: Call;
  /** Runs before each of the target's runs (a server measured in two settings flips its setting here). */
  before?: () => void;
}

/**
 * Every 2026-07-28 server at every modern concurrency, interleaved: after a warm-up each, ROUNDS rounds of
 * one slice per server, and each row is the median of its slices. The machine is shared, so a load spike
 * from elsewhere lands on every server of a round instead of skewing one row of a ratio.
 */
export async function measureModern(load: LoadClient, targets: ModernTarget[]): Promise<PerConcurrency[]> {
  return measureInterleaved(load, targets, MODERN_CONCURRENCY, MODERN) as Promise<PerConcurrency[]>;
}

async function measureInterleaved(load: LoadClient, targets: ModernTarget[], levels: readonly number[], version: string): Promise<Record<number, Measured>[]> {
  const results = targets.map(() => ({}) as Record<number, Measured>);
  const slice = { durationMs: MEASURE_MS / ROUNDS, maxRequests: Number.MAX_SAFE_INTEGER };
  for (const concurrency of levels) {
    for (const target of targets) {
      target.before?.();
      await load.run({ ...target.call, concurrency, durationMs: WARMUP_MS, maxRequests: Number.MAX_SAFE_INTEGER });
    }
    const slices: Measured[][] = targets.map(() => []);
    for (let round = 0; round < ROUNDS; round++) {
      for (const [i, target] of targets.entries()) {
        target.before?.();
        slices[i]!.push(await load.run({ ...target.call, concurrency, ...slice }));
      }
    }
    for (const [i, target] of targets.entries()) {
      results[i]![concurrency] = combine(slices[i]!);
      print(target.label, version, concurrency, results[i]![concurrency]);
    }
  }
  return results;
}

const WIDTHS = [27, 15, 4, 9, 9, 9, 11, 7];
function line(cells: string[]): string {
  return cells.map((cell, i) => (i < 2 ? cell.padEnd(WIDTHS[i]!) : cell.padStart(WIDTHS[i]!))).join(" ").trimEnd();
}

function print(label: string, version: string, concurrency: number, m: Measured): void {
  const form = m.contentType?.includes("text/event-stream") ? "SSE" : m.contentType?.includes("json") ? "JSON" : "?";
  const cells = [fmtOps(m.perSecond), m.latenciesMs.p50.toFixed(2), m.latenciesMs.p99.toFixed(2), fmtOps(m.cpuUsPerRequest), String(m.errors)];
  console.log(line([label, `${version} ${form}`, String(concurrency), ...cells]));
  if (m.firstError) console.log(`  first error: ${m.firstError}`);
}

export interface Baselines {
  bare: PerConcurrency;
  stateless: PerConcurrency;
  session: PerLegacyConcurrency;
  /** The stateless and session references stay up for the memory section. */
  statelessServer: Served;
  sessionServer: Served;
}

export function printHeader(): void {
  console.log(`\nMCP tools/call (echo), c = concurrent callers, ${MEASURE_MS / 1000} s each after ${WARMUP_MS} ms warm-up; 2026-07-28 rows are`);
  console.log(`the median of ${ROUNDS} slices taken in turn with the other servers (a busy machine slows all of them alike).`);
  console.log("CPU = this process's user+system time per request: every server runs here (PGlite too), the load generator is a");
  console.log("child process; PostgreSQL's own CPU is not included\n");
  console.log(line(["server", "protocol", "c", "req/s", "p50 ms", "p99 ms", "CPU µs/req", "errors"]));
}

export interface GatehouseCalls {
  label: string;
  token: string;
  modern: PerConcurrency;
  legacy: PerLegacyConcurrency;
  /** The same session calls with GATEHOUSE_MCP_JSON_ANSWERS on (quick calls answered as JSON). */
  legacyJson: PerLegacyConcurrency;
}

/**
 * tools/call on the references and on each Gatehouse: the 2026-07-28 rows all together (measureModern),
 * then the 2025 session rows one server after the other.
 */
export async function measureAll(load: LoadClient, servers: Served[], gatehouses: [string, RunningServer][]): Promise<{ base: Baselines; calls: GatehouseCalls[] }> {
  const bare = await bareHono();
  servers.push(bare);
  const statelessServer = await sdkStateless();
  servers.push(statelessServer);
  const sessionServer = await sdkSessions();
  servers.push(sessionServer);
  const ours = [];
  for (const [label, running] of gatehouses) {
    const url = `${running.url}/mcp`;
    ours.push({ label, url, running, token: await accessToken(running.url, running.deps.database.db) });
  }

  const [bareResults, statelessResults, ...modern] = await measureModern(load, [
    { label: "bare Hono (no auth)", call: modernCall(bare.url, null) },
    { label: "SDK stateless (no auth)", call: modernCall(statelessServer.url, null) },
    ...ours.map((g) => ({ label: `Gatehouse ${g.label}`, call: modernCall(g.url, g.token) })),
  ]);

  const [sessionId] = await load.sessions({ url: sessionServer.url, headers: requestHeaders(null), count: 1, concurrency: 1 });
  const legacyTargets: ModernTarget[] = [{ label: "SDK session (no auth)", call: legacyCall(sessionServer.url, null, sessionId!) }];
  for (const g of ours) {
    const [id] = await load.sessions({ url: g.url, headers: requestHeaders(g.token), count: 1, concurrency: 1 });
    const call = legacyCall(g.url, g.token, id!);
    const legacySessions = g.running.services.mcp.legacy;
    legacyTargets.push(
      { label: `Gatehouse ${g.label}`, call, before: () => void (legacySessions.jsonAnswers = false) },
      { label: `Gatehouse ${g.label}`, call, before: () => void (legacySessions.jsonAnswers = true) },
    );
  }
  const [session, ...legacy] = (await measureInterleaved(load, legacyTargets, LEGACY_CONCURRENCY, LEGACY)) as PerLegacyConcurrency[];
  for (const g of ours) g.running.services.mcp.legacy.jsonAnswers = g.running.deps.config.mcpJsonAnswers;
  const calls = ours.map((g, i) => ({ label: g.label, token: g.token, modern: modern[i]!, legacy: legacy[2 * i]!, legacyJson: legacy[2 * i + 1]! }));
  return { base: { bare: bareResults!, stateless: statelessResults!, session: session!, statelessServer, sessionServer }, calls };
}

/**
 * Throughput ratios against the §7 targets, and the same comparison in CPU per request; for 2026-07-28
 * also issue 10's latency target: p99 at the highest load no worse than the SDK stateless reference's p50.
 */
export function printRatios(base: Baselines, results: GatehouseCalls[]): void {
  console.log("\nRatios (throughput: Gatehouse req/s ÷ baseline req/s; CPU: baseline CPU/req ÷ Gatehouse CPU/req; higher is better)\n");
  console.log(line(["comparison", "backend", "c", "req/s ×", "CPU ×", "target", "", "met"]));
  const top = MODERN_CONCURRENCY[MODERN_CONCURRENCY.length - 1]!;
  for (const r of results) {
    const rows: [string, number, Measured, Measured, number][] = [];
    for (const c of MODERN_CONCURRENCY) {
      rows.push(["modern ÷ SDK stateless", c, r.modern[c], base.stateless[c], 5], ["modern ÷ bare Hono", c, r.modern[c], base.bare[c], 0.25]);
    }
    // PRODUCT §7: durable 2025 sessions at 1.5 × the SDK's in-memory sessions on PostgreSQL, 1 × on PGlite.
    const legacyTarget = r.label.startsWith("postgres") ? 1.5 : 1;
    for (const c of LEGACY_CONCURRENCY) rows.push(["legacy ÷ SDK session", c, r.legacy[c], base.session[c], legacyTarget]);
    for (const c of LEGACY_CONCURRENCY) rows.push(["legacy JSON ÷ SDK session", c, r.legacyJson[c], base.session[c], legacyTarget]);
    for (const [name, c, ours, theirs, target] of rows) {
      const ratio = ours.perSecond / theirs.perSecond;
      const cpu = theirs.cpuUsPerRequest / ours.cpuUsPerRequest;
      console.log(line([name, r.label, String(c), fmtRatio(ratio), fmtRatio(cpu), `≥ ${target}×`, "", ratio >= target ? "yes" : "NO"]));
    }
    const p99 = r.modern[top].latenciesMs.p99;
    const p50 = base.stateless[top].latenciesMs.p50;
    const cells = [`${p99.toFixed(2)} ms`, `${p50.toFixed(2)} ms`, "p99 ≤ p50", "", p99 <= p50 ? "yes" : "NO"];
    console.log(line(["modern p99 vs SDK p50", r.label, String(top), ...cells]));
    const sessionP50 = base.session[50].latenciesMs.p50;
    for (const [name, m] of [["legacy p99 vs SDK p50", r.legacy], ["legacy JSON p99 vs SDK p50", r.legacyJson]] as const) {
      const legacyP99 = m[50].latenciesMs.p99;
      const legacyCells = [`${legacyP99.toFixed(2)} ms`, `${sessionP50.toFixed(2)} ms`, "p99 ≤ p50", "", legacyP99 <= sessionP50 ? "yes" : "NO"];
      console.log(line([name, r.label, "50", ...legacyCells]));
    }
  }
}
