/**
 * The bench's load generator, run as a child process (bench/loadgen.ts forks
 * it) so that the servers' process measures only server CPU and server heap.
 * Plain node:http with keep-alive sockets, or with `BENCH_CLIENT=raw` the
 * cheaper raw-socket client of raw-client.ts (session set-up always uses node:http).
 */
import http from "node:http";
import { rawRun } from "./raw-client.js";

export interface RunSpec {
  url: string;
  headers: Record<string, string>;
  /** The request body; every `"__ID__"` becomes a fresh JSON-RPC id. */
  body: string;
  /** A response counts as a success when its status matches and its body contains this. */
  expectStatus: number;
  expectText: string;
  concurrency: number;
  durationMs: number;
  maxRequests: number;
}

export interface RunResult {
  count: number;
  errors: number;
  firstError: string | null;
  elapsedMs: number;
  /** The Content-Type of the last response (JSON or SSE). */
  contentType: string | null;
  latenciesMs: { p50: number; p99: number };
}

export interface SessionsSpec {
  url: string;
  headers: Record<string, string>;
  count: number;
  concurrency: number;
}

export type LoadMessage = { id: number } & ({ op: "run"; spec: RunSpec } | { op: "sessions"; spec: SessionsSpec });
export type LoadReply = { id: number } & ({ ok: true; result: unknown } | { ok: false; error: string });

let agent = new http.Agent({ keepAlive: true, maxSockets: 16 });

function send(url: string, headers: Record<string, string>, body: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; text: string }> {
  return new Promise((resolve, reject) => {
    const request = http.request(url, { method: "POST", agent, headers: { ...headers, "content-length": Buffer.byteLength(body) } }, (response) => {
      const chunks: Buffer[] = [];
      response.on("data", (chunk: Buffer) => chunks.push(chunk));
      response.on("end", () => resolve({ status: response.statusCode ?? 0, headers: response.headers, text: Buffer.concat(chunks).toString("utf8") }));
      response.on("error", reject);
    });
    request.on("error", reject);
    request.end(body);
  });
}

/** Fresh sockets for every run: a socket left idle between runs may be closed by the server just as it is reused. */
function useAgent(concurrency: number): void {
  agent.destroy();
  agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
}

function percentile(sorted: Float64Array, p: number): number {
  return sorted.length === 0 ? -1 : sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!;
}

let nextId = 1;

async function run(spec: RunSpec): Promise<RunResult> {
  if (process.env.BENCH_CLIENT === "raw") return rawRun(spec, () => nextId++);
  useAgent(spec.concurrency);
  const latencies: number[] = [];
  let started = 0;
  let errors = 0;
  let firstError: string | null = null;
  let contentType: string | null = null;
  const begin = performance.now();
  const deadline = begin + spec.durationMs;
  const [head, ...tail] = spec.body.split('"__ID__"');
  await Promise.all(
    Array.from({ length: spec.concurrency }, async () => {
      while (started < spec.maxRequests && performance.now() < deadline) {
        started++;
        const body = tail.length === 0 ? head! : head + tail.map((part) => `${nextId++}${part}`).join("");
        const t0 = performance.now();
        try {
          const response = await send(spec.url, spec.headers, body);
          contentType = response.headers["content-type"] ?? null;
          if (response.status !== spec.expectStatus || !response.text.includes(spec.expectText)) {
            errors++;
            firstError ??= `${response.status} ${response.text.slice(0, 300)}`;
          }
        } catch (error) {
          errors++;
          firstError ??= String(error);
        }
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const elapsedMs = performance.now() - begin;
  const sorted = Float64Array.from(latencies).sort();
  return { count: latencies.length, errors, firstError, elapsedMs, contentType, latenciesMs: { p50: percentile(sorted, 50), p99: percentile(sorted, 99) } };
}

/** `count` legacy sessions: initialize, then notifications/initialized; their ids. */
async function sessions(spec: SessionsSpec): Promise<string[]> {
  useAgent(spec.concurrency);
  const ids: string[] = [];
  let started = 0;
  const initialize = (id: number) =>
    JSON.stringify({
      jsonrpc: "2.0",
      id,
      method: "initialize",
      params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "bench", version: "1.0.0" } },
    });
  const initialized = JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" });
  await Promise.all(
    Array.from({ length: spec.concurrency }, async () => {
      while (started < spec.count) {
        started++;
        const init = await send(spec.url, spec.headers, initialize(nextId++));
        const sessionId = init.headers["mcp-session-id"];
        if (init.status !== 200 || typeof sessionId !== "string") throw new Error(`initialize: ${init.status} ${init.text.slice(0, 300)}`);
        const headers = { ...spec.headers, "mcp-session-id": sessionId, "mcp-protocol-version": "2025-11-25" };
        const ack = await send(spec.url, headers, initialized);
        if (ack.status !== 202) throw new Error(`notifications/initialized: ${ack.status} ${ack.text.slice(0, 300)}`);
        ids.push(sessionId);
      }
    }),
  );
  return ids;
}

if (process.send) {
  process.on("disconnect", () => process.exit(0));
  process.on("message", (message: LoadMessage) => {
    const work = message.op === "run" ? run(message.spec) : sessions(message.spec);
    work.then(
      (result) => process.send!({ id: message.id, ok: true, result } satisfies LoadReply),
      (error: unknown) => process.send!({ id: message.id, ok: false, error: String(error) } satisfies LoadReply),
    );
  });
}
