/**
 * Gateway overhead: a 2026-07-28 `tools/call` (echo) sent to an in-process
 * Streamable HTTP upstream (the SDK stateless reference) directly, then
 * through Gatehouse in gateway mode (PGlite on disk, OAuth bearer, the
 * upstream's tool under its own name), then through Gatehouse signing an
 * identity token (ES256 JWT) for every call. The row that matters is the p50
 * Gatehouse adds over the direct call. Each target gets a warm-up, then
 * ROUNDS slices taken in turn, and each row is the median of its slices.
 */
import { loadConfig } from "../src/config.js";
import type { UpstreamOptions } from "../src/gateway/config.js";
import type { RunningServer } from "../src/server.js";
import { unlimited } from "../src/storage/rate-limit.js";
import { accessToken } from "./auth.js";
import { sdkStateless, type Served } from "./baselines.js";
import { fmtOps, freePort, median, timeToReady } from "./lib.js";
import type { LoadClient, Measured } from "./loadgen.js";
import { modernCall, type Call } from "./mcp.js";

const CONCURRENCY = [1, 10] as const;
const SLICE_MS = 1_000;
const ROUNDS = 3;
const WARMUP_MS = 500;

const WIDTHS = [24, 3, 9, 9, 9, 13, 13, 11, 7];
function row(cells: string[]): string {
  return cells.map((cell, i) => (i === 0 ? cell.padEnd(WIDTHS[i]!) : cell.padStart(WIDTHS[i]!))).join(" ").trimEnd();
}

export function printHeader(): void {
  console.log(`\nGateway: tools/call (echo, 2026-07-28) to an in-process Streamable HTTP upstream, direct and through Gatehouse`);
  console.log(`(PGlite on disk); median of ${ROUNDS} slices of ${SLICE_MS / 1000} s taken in turn; added = proxied − direct, at p50 and p99;`);
  console.log(`CPU = this process's CPU per call (Gatehouse and the upstream live in it), steadier than latency on a busy machine\n`);
  console.log(row(["path", "c", "req/s", "p50 ms", "p99 ms", "added p50 ms", "added p99 ms", "CPU µs/call", "errors"]));
}

export async function gatehouseFor(upstream: UpstreamOptions, dataDir: string): Promise<RunningServer> {
  const port = await freePort();
  const config = loadConfig({}, { port, host: "127.0.0.1", publicUrl: `http://127.0.0.1:${port}`, logLevel: "silent", dataDir });
  const { running } = await timeToReady(config, {
    gatehouse: { upstreams: [upstream], sweepIntervalMs: 60 * 60 * 1000 },
    appDeps: { rateLimits: { register: unlimited, loginByIp: unlimited, loginByAccount: unlimited } },
    drainMs: 200,
  });
  return running;
}

/**
 * `dataDir` gives one fresh data directory per Gatehouse. Everything started here is handed to
 * `keep` to close at the end.
 */
export async function measureGateway(load: LoadClient, dataDir: () => Promise<string>, keep: (closer: Served | RunningServer) => void): Promise<void> {
  const upstream = await sdkStateless();
  keep(upstream);
  // prefix "" keeps the upstream's name `echo`, so one request body serves every target.
  const plain = await gatehouseFor({ name: "up", url: upstream.url, prefix: "" }, await dataDir());
  keep(plain);
  const signed = await gatehouseFor({ name: "up", url: upstream.url, prefix: "", identityToken: {} }, await dataDir());
  keep(signed);
  const targets: { label: string; call: Call }[] = [
    { label: "direct (SDK stateless)", call: modernCall(upstream.url, null) },
    { label: "via Gatehouse", call: modernCall(`${plain.url}/mcp`, await accessToken(plain.url, plain.deps.database.db)) },
    { label: "via Gatehouse + JWT", call: modernCall(`${signed.url}/mcp`, await accessToken(signed.url, signed.deps.database.db)) },
  ];
  for (const concurrency of CONCURRENCY) {
    for (const target of targets) await load.run({ ...target.call, concurrency, durationMs: WARMUP_MS, maxRequests: Number.MAX_SAFE_INTEGER });
    const slices: Measured[][] = targets.map(() => []);
    for (let round = 0; round < ROUNDS; round++) {
      for (const [i, target] of targets.entries()) {
        slices[i]!.push(await load.run({ ...target.call, concurrency, durationMs: SLICE_MS, maxRequests: Number.MAX_SAFE_INTEGER }));
      }
    }
    const p50s = slices.map((s) => median(s.map((m) => m.latenciesMs.p50)));
    const p99s = slices.map((s) => median(s.map((m) => m.latenciesMs.p99)));
    for (const [i, target] of targets.entries()) {
      const s = slices[i]!;
      const cells = [
        fmtOps(median(s.map((m) => m.perSecond))),
        p50s[i]!.toFixed(2),
        p99s[i]!.toFixed(2),
        i === 0 ? "—" : (p50s[i]! - p50s[0]!).toFixed(2),
        i === 0 ? "—" : (p99s[i]! - p99s[0]!).toFixed(2),
        median(s.map((m) => m.cpuUsPerRequest)).toFixed(0),
        String(s.reduce((sum, m) => sum + m.errors, 0)),
      ];
      console.log(row([target.label, String(concurrency), ...cells]));
      const firstError = s.find((m) => m.firstError)?.firstError;
      if (firstError) console.log(`  first error: ${firstError}`);
    }
  }
}
