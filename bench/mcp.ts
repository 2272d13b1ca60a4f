/**
 * Authenticated `tools/call` throughput, p50/p99 and server CPU per request,
 * for both protocol generations, next to the baselines of bench/baselines.ts
 * measured in the same run; then the ratios PRODUCT §7 sets targets for.
 */
import { z } from "zod";
import { defineTool } from "../src/mcp/define.js";
import type { RunningServer } from "../src/server.js";
import { accessToken } from "./auth.js";
import { bareHono, sdkSessions, sdkStateless, type Served } from "./baselines.js";
import { fmtOps, fmtRatio } from "./lib.js";
import type { RunSpec } from "./load.js";
import type { LoadClient, Measured } from "./loadgen.js";

export const CONCURRENCY = 16;
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

export async function measureCalls(load: LoadClient, call: Omit<RunSpec, "concurrency" | "durationMs" | "maxRequests">): Promise<Measured> {
  await load.run({ ...call, concurrency: CONCURRENCY, durationMs: WARMUP_MS, maxRequests: Number.MAX_SAFE_INTEGER });
  return load.run({ ...call, concurrency: CONCURRENCY, durationMs: MEASURE_MS, maxRequests: Number.MAX_SAFE_INTEGER });
}

const WIDTHS = [24, 15, 9, 9, 9, 11, 7];
function line(cells: string[]): string {
  return cells.map((cell, i) => (i < 2 ? cell.padEnd(WIDTHS[i]!) : cell.padStart(WIDTHS[i]!))).join(" ").trimEnd();
}

function print(label: string, version: string, m: Measured): void {
  const form = m.contentType?.includes("text/event-stream") ? "SSE" : m.contentType?.includes("json") ? "JSON" : "?";
  console.log(line([label, `${version} ${form}`, fmtOps(m.perSecond), m.latenciesMs.p50.toFixed(2), m.latenciesMs.p99.toFixed(2), fmtOps(m.cpuUsPerRequest), String(m.errors)]));
  if (m.firstError) console.log(`  first error: ${m.firstError}`);
}

export interface Baselines {
  bare: Measured;
  stateless: Measured;
  session: Measured;
  /** The session reference stays up for the memory section. */
  sessionServer: Served;
}

export function printHeader(): void {
  console.log(`\nMCP tools/call (echo), ${CONCURRENCY} concurrent callers, ${MEASURE_MS / 1000} s each after ${WARMUP_MS} ms warm-up;`);
  console.log("CPU = this process's user+system time per request: every server runs here (PGlite too), the load generator is a");
  console.log("child process; PostgreSQL's own CPU is not included\n");
  console.log(line(["server", "protocol", "req/s", "p50 ms", "p99 ms", "CPU µs/req", "errors"]));
}

export async function measureBaselines(load: LoadClient, servers: Served[]): Promise<Baselines> {
  const bare = await bareHono();
  servers.push(bare);
  const bareResult = await measureCalls(load, modernCall(bare.url, null));
  print("bare Hono (no auth)", MODERN, bareResult);

  const stateless = await sdkStateless();
  servers.push(stateless);
  const statelessResult = await measureCalls(load, modernCall(stateless.url, null));
  print("SDK stateless (no auth)", MODERN, statelessResult);

  const sessionServer = await sdkSessions();
  servers.push(sessionServer);
  const [sessionId] = await load.sessions({ url: sessionServer.url, headers: requestHeaders(null), count: 1, concurrency: 1 });
  const sessionResult = await measureCalls(load, legacyCall(sessionServer.url, null, sessionId!));
  print("SDK session (no auth)", LEGACY, sessionResult);
  return { bare: bareResult, stateless: statelessResult, session: sessionResult, sessionServer };
}

export interface GatehouseCalls {
  label: string;
  token: string;
  modern: Measured;
  legacy: Measured;
}

export async function measureGatehouse(load: LoadClient, label: string, running: RunningServer): Promise<GatehouseCalls> {
  const url = `${running.url}/mcp`;
  const token = await accessToken(running.url, running.deps.database.db);
  const modern = await measureCalls(load, modernCall(url, token));
  print(`Gatehouse ${label}`, MODERN, modern);
  const [sessionId] = await load.sessions({ url, headers: requestHeaders(token), count: 1, concurrency: 1 });
  const legacy = await measureCalls(load, legacyCall(url, token, sessionId!));
  print(`Gatehouse ${label}`, LEGACY, legacy);
  return { label, token, modern, legacy };
}

/** Throughput ratios against the §7 targets, and the same comparison in CPU per request. */
export function printRatios(base: Baselines, results: GatehouseCalls[]): void {
  console.log("\nRatios (throughput: Gatehouse req/s ÷ baseline req/s; CPU: baseline CPU/req ÷ Gatehouse CPU/req; higher is better)\n");
  console.log(line(["comparison", "backend", "req/s ×", "CPU ×", "target", "", "met"]));
  for (const r of results) {
    const rows: [string, Measured, Measured, number][] = [
      ["modern ÷ SDK stateless", r.modern, base.stateless, 5],
      ["modern ÷ bare Hono", r.modern, base.bare, 0.25],
      ["legacy ÷ SDK session", r.legacy, base.session, 3],
    ];
    for (const [name, ours, theirs, target] of rows) {
      const ratio = ours.perSecond / theirs.perSecond;
      const cpu = theirs.cpuUsPerRequest / ours.cpuUsPerRequest;
      console.log(line([name, r.label, fmtRatio(ratio), fmtRatio(cpu), `≥ ${target}×`, "", ratio >= target ? "yes" : "NO"]));
    }
  }
}
