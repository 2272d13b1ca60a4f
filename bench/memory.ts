/**
 * Memory of this process (where the servers run): heap per idle legacy
 * session (N initialize + notifications/initialized, then forced GC), and
 * heap growth per `tools/call` after warm-up, on one 2025 session or as
 * stateless 2026-07-28 calls. Needs `node --expose-gc` (the `bench` script
 * passes it).
 */
import v8 from "node:v8";
import { fmtOps } from "./lib.js";
import type { RunSpec } from "./load.js";
import type { LoadClient } from "./loadgen.js";
import { CONCURRENCY } from "./mcp.js";

export const SESSIONS = 200;
const CALLS = 5_000;
/** Warm-up before the per-call run: the first calls still fill caches, pools and type feedback. */
const WARMUP_CALLS = 1_000;
const WARMUP_MS = 4_000;
/** The measured run stops early after this long (PGlite on a busy machine); the ± column says what is still resolved. */
const CALLS_BUDGET_MS = 8_000;

export const canMeasure = (): boolean => typeof globalThis.gc === "function";

/** Growth up to this many bytes per call counts as none. */
const NONE_PER_CALL = 64;
/**
 * The per-call run is cut into this many segments with a settled heap
 * reading after each; bytes/call is the least-squares slope of heap over
 * calls, ± its standard error. Single readings swing by hundreds of KB with
 * nothing retained (heap snapshots showed no objects kept per call), so one
 * before/after difference over a few hundred calls would mean nothing.
 */
const SEGMENTS = 5;

/**
 * heapUsed after forced GC, less the code space: V8 compiles and flushes
 * machine code on its own schedule, hundreds of KB at a time, which says
 * nothing about what sessions and calls retain.
 */
async function settledHeap(): Promise<number> {
  for (let i = 0; i < 4; i++) {
    globalThis.gc!();
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  const code = v8.getHeapSpaceStatistics().find((space) => space.space_name === "code_space")?.space_used_size ?? 0;
  return process.memoryUsage().heapUsed - code;
}

const WIDTHS = [24, 15, 12, 15, 12];
const line = (cells: string[]) => cells.map((cell, i) => (i === 0 ? cell.padEnd(WIDTHS[i]!) : cell.padStart(WIDTHS[i]!))).join(" ");
const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;

export function printHeader(): void {
  console.log(`\nMemory (heapUsed less code space, after forced GC): ${SESSIONS} 2025-11-25 sessions just opened (live), then idle`);
  console.log(`(target ≤ 10 KB per idle session);`);
  console.log(`then up to ${fmtOps(CALLS)} tools/call (on one session, or 2026-07-28) after up to ${fmtOps(WARMUP_CALLS)} warm-up calls; target: no growth`);
  console.log(`(≤ ${NONE_PER_CALL} B/call). Per call = slope of heap over calls across ${SEGMENTS + 1} readings ± standard error;`);
  console.log(`"inconclusive" when 2 × the error exceeds ${NONE_PER_CALL} B (too few calls to tell, e.g. on a busy machine)\n`);
  console.log(line(["server", "what", "heap Δ", "per item", "target"]));
}

let lastPerSessionKb = 0;
export const lastSessionKb = () => lastPerSessionKb;

/** Heap per live session: `liveSessions` must grow by `SESSIONS`, or the row says so. */
export async function sessionMemory(
  load: LoadClient,
  label: string,
  url: string,
  headers: Record<string, string>,
  liveSessions: () => number,
): Promise<{ ids: string[]; before: number }> {
  await load.sessions({ url, headers, count: 5, concurrency: 1 }); // warm-up: JIT, sockets, prepared statements
  const before = await settledHeap();
  const live = liveSessions();
  const ids = await load.sessions({ url, headers, count: SESSIONS, concurrency: 8 });
  const delta = (await settledHeap()) - before;
  const grown = liveSessions() - live;
  const per = delta / SESSIONS;
  lastPerSessionKb = per / 1024;
  const note = grown === SESSIONS ? "" : ` (live sessions grew by ${grown})`;
  console.log(line([label, `${SESSIONS} live sessions`, kb(delta), kb(per), "(see idle)"]) + note);
  return { ids, before };
}

/**
 * The same sessions once idle: Gatehouse drops a session's live SDK objects
 * `idleMs` after its last use (the record stays; any node rebuilds it on the
 * next request), so an idle session costs what is left after that.
 */
export async function idleSessionMemory(label: string, before: number, idleMs: number, sweep: () => Promise<void>, liveSessions: () => number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, idleMs + 500));
  await sweep();
  const delta = (await settledHeap()) - before;
  const per = delta / SESSIONS;
  console.log(line([label, `${SESSIONS} idle sessions`, kb(delta), kb(per), per <= 10 * 1024 ? "met" : "NOT MET"]) + ` (${liveSessions()} still live)`);
}

/** The SDK reference keeps every session live until it is deleted: idle and live cost the same. */
export function referenceIdle(label: string, liveKb: number): void {
  console.log(line([label, `${SESSIONS} idle sessions`, "", kb(liveKb * 1024), liveKb <= 10 ? "met" : "NOT MET"]) + " (same objects as live)");
}

function verdict(perCall: number, error: number): string {
  if (perCall - 2 * error > NONE_PER_CALL) return "NOT MET";
  return 2 * error > NONE_PER_CALL ? "inconclusive" : "met";
}

/** Least-squares slope of y over x, and its standard error. */
function slope(points: [number, number][]): { slope: number; error: number } {
  const n = points.length;
  const mx = points.reduce((sum, [x]) => sum + x, 0) / n;
  const my = points.reduce((sum, [, y]) => sum + y, 0) / n;
  const sxx = points.reduce((sum, [x]) => sum + (x - mx) ** 2, 0);
  const b = points.reduce((sum, [x, y]) => sum + (x - mx) * (y - my), 0) / sxx;
  const residuals = points.reduce((sum, [x, y]) => sum + (y - my - b * (x - mx)) ** 2, 0);
  return { slope: b, error: Math.sqrt(residuals / Math.max(1, n - 2) / sxx) };
}

/** Heap growth per call after a warm-up: the slope over SEGMENTS + 1 settled readings. */
export async function callGrowth(load: LoadClient, label: string, call: Omit<RunSpec, "concurrency" | "durationMs" | "maxRequests">, what = "calls"): Promise<void> {
  await load.run({ ...call, concurrency: CONCURRENCY, durationMs: WARMUP_MS, maxRequests: WARMUP_CALLS });
  const segment = { ...call, concurrency: CONCURRENCY, durationMs: CALLS_BUDGET_MS / SEGMENTS, maxRequests: CALLS / SEGMENTS };
  const start = await settledHeap();
  const points: [number, number][] = [[0, 0]];
  let calls = 0;
  let errors = 0;
  let firstError: string | null = null;
  for (let i = 0; i < SEGMENTS; i++) {
    const result = await load.run(segment);
    calls += result.count;
    errors += result.errors;
    firstError ??= result.firstError;
    points.push([calls, (await settledHeap()) - start]);
  }
  const fit = slope(points);
  const note = errors > 0 ? ` (${errors} errors: ${firstError})` : "";
  const per = `${fit.slope.toFixed(0)} ± ${fit.error.toFixed(0)} B`;
  // Failed calls allocate less than real ones: a row with errors measures nothing.
  const judged = errors > 0 ? "invalid" : verdict(fit.slope, fit.error);
  console.log(line([label, `${fmtOps(calls)} ${what}`, kb(points[points.length - 1]![1]), per, judged]) + note);
}
