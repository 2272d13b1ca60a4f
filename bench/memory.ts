/**
 * Memory of this process (where the servers run): heap per idle legacy
 * session (N initialize + notifications/initialized, then forced GC), and
 * heap growth per `tools/call` on one session after warm-up. Needs
 * `node --expose-gc` (the `bench` script passes it).
 */
import v8 from "node:v8";
import { fmtOps } from "./lib.js";
import type { RunSpec } from "./load.js";
import type { LoadClient } from "./loadgen.js";
import { CONCURRENCY } from "./mcp.js";

export const SESSIONS = 200;
const CALLS = 5_000;
/** The per-call run stops early after this long (PGlite on a busy machine); the bytes/call stays valid. */
const CALLS_BUDGET_MS = 10_000;

export const canMeasure = (): boolean => typeof globalThis.gc === "function";

/** Growth up to this many bytes per call counts as none: what GC and JIT leave behind between two measurements. */
const NOISE_PER_CALL = 64;

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

const WIDTHS = [24, 12, 12, 14, 9];
const line = (cells: string[]) => cells.map((cell, i) => (i === 0 ? cell.padEnd(WIDTHS[i]!) : cell.padStart(WIDTHS[i]!))).join(" ");
const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;

export function printHeader(): void {
  console.log(`\nMemory (heapUsed less code space, after forced GC): ${SESSIONS} idle 2025-11-25 sessions (target ≤ 10 KB each);`);
  console.log(`then up to ${fmtOps(CALLS)} tools/call on one session after warm-up (target: no growth; ≤ ${NOISE_PER_CALL} B/call is GC noise)\n`);
  console.log(line(["server", "what", "heap Δ", "per item", "target"]));
}

/** Heap per idle session: `liveSessions` must grow by `SESSIONS`, or the row says so. */
export async function sessionMemory(
  load: LoadClient,
  label: string,
  url: string,
  headers: Record<string, string>,
  liveSessions: () => number,
): Promise<string[]> {
  await load.sessions({ url, headers, count: 5, concurrency: 1 }); // warm-up: JIT, sockets, prepared statements
  const before = await settledHeap();
  const live = liveSessions();
  const ids = await load.sessions({ url, headers, count: SESSIONS, concurrency: 8 });
  const delta = (await settledHeap()) - before;
  const grown = liveSessions() - live;
  const per = delta / SESSIONS;
  const note = grown === SESSIONS ? "" : ` (live sessions grew by ${grown})`;
  console.log(line([label, `${SESSIONS} sessions`, kb(delta), kb(per), per <= 10 * 1024 ? "met" : "NOT MET"]) + note);
  return ids;
}

/** Heap growth per call on one session, after a warm-up. */
export async function callGrowth(load: LoadClient, label: string, call: Omit<RunSpec, "concurrency" | "durationMs" | "maxRequests">): Promise<void> {
  await load.run({ ...call, concurrency: CONCURRENCY, durationMs: 3_000, maxRequests: 300 });
  const before = await settledHeap();
  const result = await load.run({ ...call, concurrency: CONCURRENCY, durationMs: CALLS_BUDGET_MS, maxRequests: CALLS });
  const delta = (await settledHeap()) - before;
  const per = delta / Math.max(1, result.count);
  const errors = result.errors > 0 ? ` (${result.errors} errors: ${result.firstError})` : "";
  console.log(line([label, `${fmtOps(result.count)} calls`, kb(delta), `${per.toFixed(0)} B`, per <= NOISE_PER_CALL ? "met" : "NOT MET"]) + errors);
}
