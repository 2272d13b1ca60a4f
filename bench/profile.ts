/**
 * `npm run bench:profile -- modern|legacy|legacy-json|bare|gateway|gateway-jwt [pglite]`:
 * one Gatehouse on fresh data under load for a few seconds while the V8
 * profiler samples this process; prints the hottest functions (self time)
 * and files (inclusive), then what makes a latency tail: event-loop stalls,
 * GC pauses and the database statements run while under load (none belong
 * on a warm call). `bare` profiles the bench's bare Hono answer instead (the
 * same load), for what any request costs here before Gatehouse does
 * anything. `gateway` proxies the call to an in-process upstream (both in
 * this process, as in the bench's gateway rows; `-jwt` signs identity tokens).
 * For finding where a request's time goes, not for the §7 numbers.
 */
import { Session } from "node:inspector/promises";
import { monitorEventLoopDelay, PerformanceObserver } from "node:perf_hooks";
import { accessToken } from "./auth.js";
import { bareHono, sdkStateless } from "./baselines.js";
import { gatehouseFor } from "./gateway.js";
import { freshPostgres, tempDir } from "./lib.js";
import { LoadClient } from "./loadgen.js";
import { legacyCall, measureCalls, modernCall, requestHeaders } from "./mcp.js";
import { startup } from "./storage.js";

const which = (["legacy", "legacy-json", "bare", "gateway", "gateway-jwt"] as const).find((w) => w === process.argv[2]) ?? "modern";
const gateway = which.startsWith("gateway");
const onPglite = process.argv[3] === "pglite" || gateway;
const temp = await tempDir();
const pg = onPglite ? null : await freshPostgres(process.env.TEST_DATABASE_URL || "postgres://postgres@127.0.0.1:5432/postgres");
const upstream = gateway ? await sdkStateless() : null;
const running = upstream
  ? await gatehouseFor({ name: "up", url: upstream.url, prefix: "", ...(which === "gateway-jwt" ? { identityToken: {} } : {}) }, temp.dir)
  : await startup("profile", { dataDir: temp.dir, ...(pg ? { databaseUrl: pg.url } : {}) });
const bare = which === "bare" ? await bareHono() : null;
const load = LoadClient.start();
try {
  const url = `${running.url}/mcp`;
  const token = await accessToken(running.url, running.deps.database.db);
  let call = bare ? modernCall(bare.url, null) : modernCall(url, token);
  // legacy-json: the 2025 session calls with GATEHOUSE_MCP_JSON_ANSWERS on.
  running.services.mcp.legacy.jsonAnswers = which === "legacy-json";
  if (which === "legacy" || which === "legacy-json") {
    const [sessionId] = await load.sessions({ url, headers: requestHeaders(token), count: 1, concurrency: 1 });
    call = legacyCall(url, token, sessionId!);
  }
  await measureCalls(load, call);
  const statements = countStatements(running);
  const loopDelay = monitorEventLoopDelay({ resolution: 5 });
  const gcPauses: { kind: string; ms: number }[] = [];
  const GC_KINDS: Record<number, string> = { 1: "scavenge", 2: "mark-compact", 4: "incremental", 8: "weak callbacks" };
  const gcObserver = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) gcPauses.push({ kind: GC_KINDS[(e as unknown as { detail: { kind: number } }).detail.kind] ?? "other", ms: e.duration });
  });
  gcObserver.observe({ entryTypes: ["gc"] });
  loopDelay.enable();
  const session = new Session();
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.setSamplingInterval", { interval: 100 });
  await session.post("Profiler.start");
  const measured = await measureCalls(load, call);
  const { profile } = await session.post("Profiler.stop");
  loopDelay.disable();
  gcObserver.disconnect();
  const ms = (ns: number) => (ns / 1e6).toFixed(1);
  console.log(`${which}: ${Math.round(measured.perSecond)} req/s, ${Math.round(measured.cpuUsPerRequest)} µs CPU/req, errors ${measured.errors}`);
  console.log(`latency p50 ${measured.latenciesMs.p50.toFixed(2)} ms, p99 ${measured.latenciesMs.p99.toFixed(2)} ms`);
  console.log(`event-loop delay ms: p50 ${ms(loopDelay.percentile(50))}, p99 ${ms(loopDelay.percentile(99))}, max ${ms(loopDelay.max)}`);
  const heap = process.memoryUsage();
  console.log(`heap used ${(heap.heapUsed / 2 ** 20).toFixed(0)} MB of ${(heap.heapTotal / 2 ** 20).toFixed(0)} MB; array buffers ${(heap.arrayBuffers / 2 ** 20).toFixed(0)} MB`);
  for (const kind of new Set(gcPauses.map((p) => p.kind))) {
    const pauses = gcPauses.filter((p) => p.kind === kind).map((p) => p.ms);
    const sum = pauses.reduce((a, b) => a + b, 0);
    console.log(`GC ${kind}: ${pauses.length} pauses, ${sum.toFixed(0)} ms in all, longest ${Math.max(...pauses).toFixed(1)} ms`);
  }
  console.log(`database statements during the measured run: ${statements.size === 0 ? "none" : ""}`);
  for (const [text, count] of [...statements].sort((a, b) => b[1] - a[1]).slice(0, 10)) console.log(`  ${count}× ${text}`);
  type Node = (typeof profile.nodes)[number];
  const byId = new Map<number, Node>(profile.nodes.map((n) => [n.id, n]));
  const selfSamples = new Map<number, number>();
  for (const id of profile.samples ?? []) selfSamples.set(id, (selfSamples.get(id) ?? 0) + 1);
  const total = profile.samples?.length ?? 1;
  const short = (u: string) => u.replace(/^file:\/\//, "").replace(/.*node_modules\//, "nm:").replace(/.*\/work\/main\//, "");
  const fnKey = (n: Node) => `${n.callFrame.functionName || "(anon)"} ${short(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`;
  const self = new Map<string, number>();
  for (const [id, count] of selfSamples) {
    const key = fnKey(byId.get(id)!);
    self.set(key, (self.get(key) ?? 0) + count);
  }
  // Inclusive time per file: a sample counts once for every distinct file on its stack.
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const inclusive = new Map<string, number>();
  /** Inclusive time per function of this project (src/): what a function costs with what it calls. */
  const ours = new Map<string, number>();
  for (const [id, count] of selfSamples) {
    const files = new Set<string>();
    const fns = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const node = byId.get(at)!;
      if (node.callFrame.url.includes("/src/")) fns.add(fnKey(node));
    }
    for (const f of fns) ours.set(f, (ours.get(f) ?? 0) + count);
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const u = byId.get(at)!.callFrame.url;
      if (u) files.add(short(u).replace(/^nm:((@[^/]+\/)?[^/]+).*/, "nm:$1"));
      const fn = byId.get(at)!.callFrame;
      if (!u && fn.functionName) files.add(`(${fn.functionName})`);
    }
    for (const f of files) inclusive.set(f, (inclusive.get(f) ?? 0) + count);
  }
  // Wall time per request spent in a frame: its share of the samples times the profiled time, over the requests.
  const usPerRequest = (profile.endTime - profile.startTime) / total / Math.max(1, measured.count);
  const top = (m: Map<string, number>, n: number) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([k, v]) => `${((100 * v) / total).toFixed(1).padStart(5)}% ${(v * usPerRequest).toFixed(1).padStart(6)} µs  ${k}`)
      .join("\n");
  const focus = process.env.PROFILE_CALLERS;
  if (focus) {
    const stacks = new Map<string, number>();
    for (const [id, count] of selfSamples) {
      const frames: string[] = [];
      for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) frames.push(fnKey(byId.get(at)!));
      const hit = frames.findIndex((f) => f.startsWith(focus));
      if (hit < 0) continue;
      const key = frames.slice(hit, hit + 8).join("\n    <- ");
      stacks.set(key, (stacks.get(key) ?? 0) + count);
    }
    console.log(`\ncallers of ${focus}\n${top(stacks, 6)}`);
  }
  console.log(`\nself time (share of samples, wall µs per request), top 40 of ${total} samples\n${top(self, 40)}`);
  console.log(`\ninclusive by file/package, top 40\n${top(inclusive, 40)}`);
  console.log(`\ninclusive by function of src/, top 25\n${top(ours, 25)}`);
  if (process.env.PROFILE_ALLOC) await allocations(session, call);
} finally {
  await load.close();
  await bare?.close();
  await running.close();
  await upstream?.close();
  await pg?.drop();
  await temp.remove();
}

/**
 * PROFILE_ALLOC=1: bytes allocated per request by the allocating function (V8's sampling heap profiler,
 * counting what GC already collected too): what feeds the scavenges.
 */
async function allocations(session: Session, call: ReturnType<typeof modernCall>): Promise<void> {
  await session.post("HeapProfiler.enable");
  await session.post("HeapProfiler.startSampling", { samplingInterval: 256, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
  const measured = await measureCalls(load, call);
  const { profile } = await session.post("HeapProfiler.stopSampling");
  type HeapNode = (typeof profile.head)["children"][number];
  const bytes = new Map<string, number>();
  let all = 0;
  const walk = (node: HeapNode) => {
    const size = node.selfSize;
    if (size > 0) {
      const f = node.callFrame;
      const key = `${f.functionName || "(anon)"} ${f.url.replace(/^file:\/\//, "").replace(/.*node_modules\//, "nm:").replace(/.*\/work\/[^/]+\//, "")}:${f.lineNumber + 1}`;
      bytes.set(key, (bytes.get(key) ?? 0) + size);
      all += size;
    }
    for (const child of node.children) walk(child);
  };
  walk(profile.head);
  const per = (b: number) => (b / Math.max(1, measured.count)).toFixed(0).padStart(7);
  console.log(`\nallocated per request: ${per(all).trim()} bytes; top 30 allocating functions (bytes/request)`);
  for (const [key, b] of [...bytes].sort((a, b) => b[1] - a[1]).slice(0, 30)) console.log(`${per(b)}  ${key}`);
}

/** Counts the statements the server sends to its database from now on, by their first 100 characters. */
function countStatements(server: typeof running): Map<string, number> {
  const counts = new Map<string, number>();
  const target = (server.deps.database.pglite ?? server.deps.database.pool) as unknown as Record<string, (...args: unknown[]) => unknown>;
  for (const method of ["query", "exec"]) {
    const original = target[method];
    if (typeof original !== "function") continue;
    target[method] = function (this: unknown, ...args: unknown[]) {
      const first = args[0] as string | { text?: string };
      const text = (typeof first === "string" ? first : (first?.text ?? "?")).replace(/\s+/g, " ").slice(0, 100);
      counts.set(text, (counts.get(text) ?? 0) + 1);
      return original.apply(this, args);
    };
  }
  return counts;
}
