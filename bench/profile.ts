/**
 * `npm run bench:profile -- modern|legacy|gateway|gateway-jwt [pglite]`: one
 * Gatehouse on fresh data under load for a few seconds while the V8 profiler
 * samples this process; prints the hottest functions (self time) and files
 * (inclusive). `gateway` proxies the call to an in-process upstream (both in
 * this process, as in the bench's gateway rows; `-jwt` signs identity tokens).
 * For finding where a request's time goes, not for the §7 numbers.
 */
import { Session } from "node:inspector/promises";
import { accessToken } from "./auth.js";
import { sdkStateless } from "./baselines.js";
import { gatehouseFor } from "./gateway.js";
import { freshPostgres, tempDir } from "./lib.js";
import { LoadClient } from "./loadgen.js";
import { legacyCall, measureCalls, modernCall, requestHeaders } from "./mcp.js";
import { startup } from "./storage.js";

const which = (["legacy", "gateway", "gateway-jwt"] as const).find((w) => w === process.argv[2]) ?? "modern";
const gateway = which.startsWith("gateway");
const onPglite = process.argv[3] === "pglite" || gateway;
const temp = await tempDir();
const pg = onPglite ? null : await freshPostgres(process.env.TEST_DATABASE_URL || "postgres://postgres@127.0.0.1:5432/postgres");
const upstream = gateway ? await sdkStateless() : null;
const running = upstream
  ? await gatehouseFor({ name: "up", url: upstream.url, prefix: "", ...(which === "gateway-jwt" ? { identityToken: {} } : {}) }, temp.dir)
  : await startup("profile", { dataDir: temp.dir, ...(pg ? { databaseUrl: pg.url } : {}) });
const load = LoadClient.start();
try {
  const url = `${running.url}/mcp`;
  const token = await accessToken(running.url, running.deps.database.db);
  let call = modernCall(url, token);
  if (which === "legacy") {
    const [sessionId] = await load.sessions({ url, headers: requestHeaders(token), count: 1, concurrency: 1 });
    call = legacyCall(url, token, sessionId!);
  }
  await measureCalls(load, call);
  const session = new Session();
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.setSamplingInterval", { interval: 100 });
  await session.post("Profiler.start");
  const measured = await measureCalls(load, call);
  const { profile } = await session.post("Profiler.stop");
  console.log(`${which}: ${Math.round(measured.perSecond)} req/s, ${Math.round(measured.cpuUsPerRequest)} µs CPU/req, errors ${measured.errors}`);
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
  for (const [id, count] of selfSamples) {
    const files = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const u = byId.get(at)!.callFrame.url;
      if (u) files.add(short(u).replace(/^nm:((@[^/]+\/)?[^/]+).*/, "nm:$1"));
      const fn = byId.get(at)!.callFrame;
      if (!u && fn.functionName) files.add(`(${fn.functionName})`);
    }
    for (const f of files) inclusive.set(f, (inclusive.get(f) ?? 0) + count);
  }
  const top = (m: Map<string, number>, n: number) =>
    [...m].sort((a, b) => b[1] - a[1]).slice(0, n).map(([k, v]) => `${((100 * v) / total).toFixed(1).padStart(5)}%  ${k}`).join("\n");
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
  console.log(`\nself time, top 40 of ${total} samples\n${top(self, 40)}`);
  console.log(`\ninclusive by file/package, top 40\n${top(inclusive, 40)}`);
} finally {
  await load.close();
  await running.close();
  await upstream?.close();
  await pg?.drop();
  await temp.remove();
}
