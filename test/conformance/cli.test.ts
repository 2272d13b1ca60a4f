/**
 * `gatehouse` as a user runs it (PRODUCT §3): a child process per command,
 * checked by exit code, stdout and stderr only (helpers/cli.ts). Each test
 * gets its own data directory (and, on PostgreSQL, its own database) and a
 * free loopback port. No child outlives its test: `run` reaps its own, each
 * flow's afterAll kills its server, and a file-level afterAll kills anything
 * left, even on failure.
 */
import { existsSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import {
  createCliDatabase, expectOneLineError, killAll, ok, removeTempDirs, run, STACK_FRAME, startServer, tempDir, until, waitExit,
  type Child, type Env,
} from "../helpers/cli.js";
import { openGetStream, openSession, sessionRpc } from "../helpers/mcp.js";
import { connect, registerClient, signIn } from "../helpers/oauth.js";
import { freePort } from "../helpers/server.js";

const SETUP_LINK = /http:\/\/localhost:\d+\/setup\?token=[A-Za-z0-9_-]{43}/;

// Not afterEach: concurrent tests would kill each other's children.
afterAll(async () => {
  await killAll();
  await removeTempDirs();
});

describe.concurrent("help and usage", { timeout: 240_000 }, () => {
  it.each([["--help"], ["-h"], ["help"]])("`gatehouse %s` prints the usage, exit 0", async (flag) => {
    const result = await run([flag], {});
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^Usage: gatehouse <command>/);
    for (const command of ["start", "migrate", "user add", "user list", "user remove"]) expect(result.stdout).toContain(command);
    expect(result.stdout).toContain("Exit codes: 0 success, 1 failure, 2 usage error.");
    expect(result.stderr).toBe("");
  });

  it("no arguments print the usage on stdout, exit 2", async () => {
    const result = await run([], {});
    expect(result.code).toBe(2);
    expect(result.stdout).toMatch(/^Usage: gatehouse <command>/);
  });

  it("`gatehouse user` without a subcommand prints the user usage, exit 2", async () => {
    const result = await run(["user"], {});
    expect(result.code).toBe(2);
    expect(result.stdout).toMatch(/^Usage: gatehouse user /);
  });

  it.each([
    [["user", "--help"], /^Usage: gatehouse user </],
    [["start", "--help"], /^Usage: gatehouse start /],
    [["migrate", "--help"], /^Usage: gatehouse migrate/],
    [["user", "add", "--help"], /^Usage: gatehouse user add /],
    [["user", "list", "--help"], /^Usage: gatehouse user list/],
    [["user", "remove", "-h"], /^Usage: gatehouse user remove /],
  ])("`gatehouse %s` prints its usage, exit 0", async (args, usage) => {
    const result = await run(args, { GATEHOUSE_DATA_DIR: await tempDir() });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(usage);
    expect(result.stderr).toBe("");
  });
});

describe.concurrent("usage errors exit 2", { timeout: 240_000 }, () => {
  it.each([
    [["frob"], /unknown command "frob"/],
    [["user", "frob"], /unknown user command "frob"/],
    [["start", "--bogus"], /bogus/],
    [["user", "add"], /expected 1 argument, got 0/],
    [["user", "remove", "a@example.com", "b@example.com"], /expected 1 argument, got 2/],
  ])("`gatehouse %s`", async (args, pattern) => {
    const result = await run(args, { GATEHOUSE_DATA_DIR: await tempDir() });
    expect(result.code).toBe(2);
    expectOneLineError(result.stderr, pattern);
    expect(result.stderr).toContain("Usage: gatehouse");
  });
});

describe.concurrent("failures exit 1 with one clear line", { timeout: 240_000 }, () => {
  it("`user add` with a bad email", async () => {
    const result = await run(["user", "add", "not-an-email", "--password-stdin"], { GATEHOUSE_DATA_DIR: await tempDir() }, "long enough password\n");
    expect(result.code).toBe(1);
    expectOneLineError(result.stderr, /not a valid email address/);
    expect(result.stderr.trim().split("\n")).toHaveLength(1);
  });

  it("`start` with PORT=abc names the variable", async () => {
    const result = await run(["start"], { GATEHOUSE_DATA_DIR: await tempDir(), PORT: "abc" });
    expect(result.code).toBe(1);
    expect(result.stderr.split("\n")[0]).toMatch(/^gatehouse: PORT: /);
    expectOneLineError(result.stderr, /PORT/);
  });

  it("`start --port` overrides PORT and is validated the same way", async () => {
    const result = await run(["start", "--port", "70000"], { GATEHOUSE_DATA_DIR: await tempDir(), PORT: "8787" });
    expect(result.code).toBe(1);
    expectOneLineError(result.stderr, /^gatehouse: PORT: .*70000/);
  });

  it("`start` with a bad GATEHOUSE_PUBLIC_URL names the variable", async () => {
    const result = await run(["start"], { GATEHOUSE_DATA_DIR: await tempDir(), GATEHOUSE_PUBLIC_URL: "http://example.com" });
    expect(result.code).toBe(1);
    expectOneLineError(result.stderr, /^gatehouse: GATEHOUSE_PUBLIC_URL: /);
  });

  it("`start` on a port already in use", async () => {
    const dataDir = await tempDir();
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
    try {
      const port = (blocker.address() as net.AddressInfo).port;
      const result = await run(["start"], { GATEHOUSE_DATA_DIR: dataDir, PORT: String(port) });
      expect(result.code).toBe(1);
      expectOneLineError(result.stderr, new RegExp(`port ${port} is already in use`));
      expect(result.stderr.trim().split("\n")).toHaveLength(1);
      // The data directory is not left locked.
      expect(existsSync(path.join(dataDir, "gatehouse.lock"))).toBe(false);
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });

  it("`start` with a PostgreSQL that does not answer", async () => {
    const result = await run(["start"], {
      GATEHOUSE_DATA_DIR: await tempDir(),
      PORT: String(await freePort()),
      DATABASE_URL: "postgres://postgres@127.0.0.1:1/x",
    });
    expect(result.code).toBe(1);
    expectOneLineError(result.stderr, /cannot connect to PostgreSQL at postgres:\/\/postgres@127\.0\.0\.1:1\/x/);
    expect(result.stderr.trim().split("\n")).toHaveLength(1);
  });

  it("`user list` with a bad DATABASE_URL names the variable", async () => {
    const result = await run(["user", "list"], { DATABASE_URL: "mysql://x" });
    expect(result.code).toBe(1);
    expectOneLineError(result.stderr, /^gatehouse: DATABASE_URL: /);
  });
});

/**
 * The main flow of issue #2's "done when": first start prints the setup link,
 * commands work while the server runs, SIGTERM exits cleanly, data survives
 * a restart, and commands work with no server running.
 */
function mainFlow(driver: "pglite" | "postgres", makeDatabase: () => Promise<{ url?: string; drop(): Promise<void> }>) {
  describe(`main flow on ${driver}`, { timeout: 240_000 }, () => {
    let env: Env;
    let dataDir: string;
    let server: Child | undefined;
    let drop: () => Promise<void> = async () => {};
    const cli = (args: string[], stdin?: string) => run(args, env, stdin);

    beforeAll(async () => {
      dataDir = await tempDir();
      const database = await makeDatabase();
      drop = () => database.drop();
      env = { GATEHOUSE_DATA_DIR: dataDir, PORT: String(await freePort()), ...(database.url ? { DATABASE_URL: database.url } : {}) };
    });

    // Children are killed only at the end of the flow: the server spans several tests.
    afterAll(async () => {
      await killAll();
      await drop();
    });

    it("start prints a setup link and serves /healthz and /readyz", async () => {
      server = await startServer(env);
      expect(server.stdout).toMatch(SETUP_LINK);
      expect(server.stdout).toContain(`Gatehouse is listening on http://localhost:${env.PORT}`);
      for (const route of ["/healthz", "/readyz"]) {
        const res = await fetch(`http://127.0.0.1:${env.PORT}${route}`);
        expect(res.status).toBe(200);
        expect(res.headers.get("content-type")).toMatch(/^application\/json/);
        expect(await res.json()).toHaveProperty("status");
      }
      expect(existsSync(path.join(dataDir, "gatehouse.sock"))).toBe(driver === "pglite");
    });

    it("user add --password-stdin works while the server runs", async () => {
      const result = await cli(["user", "add", "A@Example.com", "--password-stdin"], "correct horse battery\n");
      expect(result.stderr).toBe("");
      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(/^Created a@example\.com \([0-9a-f-]{36}\)\./);
      expect(result.stdout).not.toMatch(SETUP_LINK);
    });

    it("user list shows it", async () => {
      const result = await cli(["user", "list"]);
      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(/^a@example\.com\t[0-9a-f-]{36}\tuser\tactive\t\d{4}-\d\d-\d\dT/m);
    });

    it("user add of an existing email fails with one line", async () => {
      const result = await cli(["user", "add", "a@example.com", "--password-stdin"], "another password\n");
      expect(result.code).toBe(1);
      expectOneLineError(result.stderr, /already exists/);
    });

    it("user add without a password prints a set-password link", async () => {
      const result = await cli(["user", "add", "b@example.com"]);
      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(SETUP_LINK);
      expect((await cli(["user", "list"])).stdout).toContain("b@example.com");
    });

    it("user remove removes it", async () => {
      const result = await cli(["user", "remove", "b@example.com"]);
      expect(result.code).toBe(0);
      expect(result.stdout).toContain("Removed b@example.com");
      const list = await cli(["user", "list"]);
      expect(list.stdout).not.toContain("b@example.com");
      expect(list.stdout).toContain("a@example.com");
      const again = await cli(["user", "remove", "b@example.com"]);
      expect(again.code).toBe(1);
      expectOneLineError(again.stderr, /No account for b@example\.com/);
    });

    it("migrate works while the server runs", async () => {
      const result = await cli(["migrate"]);
      expect(result.code).toBe(0);
      expect(result.stdout).toContain("Migrations applied.");
      expect(await ok(`http://127.0.0.1:${env.PORT}/readyz`)).toBe(true);
    });

    it("SIGTERM stops the server with exit 0 and leaves no lock or socket", async () => {
      server!.process.kill("SIGTERM");
      expect(await waitExit(server!, 15_000)).toBe(0);
      expect(server!.stderr).not.toContain(STACK_FRAME);
      expect(existsSync(path.join(dataDir, "gatehouse.lock"))).toBe(false);
      expect(existsSync(path.join(dataDir, "gatehouse.sock"))).toBe(false);
      expect(await ok(`http://127.0.0.1:${env.PORT}/healthz`)).toBe(false);
    });

    it("a restart keeps the data and prints no setup link", async () => {
      server = await startServer(env);
      expect(server.stdout).not.toMatch(/setup\?token=/);
      const result = await cli(["user", "list"]);
      expect(result.code).toBe(0);
      expect(result.stdout).toContain("a@example.com");
      server.process.kill("SIGTERM");
      expect(await waitExit(server, 15_000)).toBe(0);
    });

    it("with no server running, commands open the data directly", async () => {
      const result = await cli(["user", "list", "--json"]);
      expect(result.code).toBe(0);
      const users = JSON.parse(result.stdout) as { email: string; hasPassword: boolean }[];
      expect(users).toEqual([expect.objectContaining({ email: "a@example.com", hasPassword: true })]);
      expect((await cli(["migrate"])).code).toBe(0);
      expect(existsSync(path.join(dataDir, "gatehouse.lock"))).toBe(false);
    });
  });
}

mainFlow("pglite", async () => ({ drop: async () => {} }));

describe("SIGTERM with an MCP stream open (PRODUCT §8)", { timeout: 240_000 }, () => {
  afterAll(killAll);

  it("refuses new requests, ends the open GET stream cleanly and exits 0", async () => {
    const port = String(await freePort());
    const base = `http://127.0.0.1:${port}`;
    const env: Env = { GATEHOUSE_DATA_DIR: await tempDir(), PORT: port, GATEHOUSE_PUBLIC_URL: base };
    const server = await startServer(env);
    const added = await run(["user", "add", "drain@example.com", "--password-stdin"], env, "correct horse battery\n");
    expect(added.code, added.stderr).toBe(0);
    const jar = await signIn(base, "drain@example.com", "correct horse battery");
    const { tokens } = await connect(base, jar, await registerClient(base));
    const session = await openSession(base, tokens.access_token);
    const stream = await openGetStream(base, tokens.access_token, session);

    const signalledAt = Date.now();
    server.process.kill("SIGTERM");
    // The drain begins once the server logs it (it stops listening in the same tick).
    await until("the server to start shutting down", () => /shutting down/.test(server.stderr), 10_000);

    // (2) A new request is refused (no connection, or 503), not served.
    const outcome = await sessionRpc(base, tokens.access_token, session, { jsonrpc: "2.0", id: 99, method: "ping" }).then(
      (exchange) => exchange.status,
      (error: Error & { cause?: { code?: string } }) => error.cause?.code ?? error.message,
    );
    expect([503, "ECONNREFUSED"]).toContain(outcome);

    // (1) The open stream is ended by the server (a GET stream carries only notifications: it ends at once and
    // the client resumes elsewhere), cleanly — no network error or reset.
    await Promise.race([
      stream.ended,
      new Promise((_, reject) => setTimeout(() => reject(new Error("the GET stream did not end within 15 s")), 15_000)),
    ]);
    expect(stream.error, `the stream ended with ${String(stream.error)}`).toBeNull();

    // (3) The process exits 0 within 15 s of the signal, with no stack trace.
    expect(await waitExit(server, Math.max(1, signalledAt + 15_000 - Date.now()))).toBe(0);
    expect(server.stderr).not.toContain(STACK_FRAME);
  });
});

describe.runIf(inject("pgAdminUrl") !== null)("on PostgreSQL", () => {
  mainFlow("postgres", async () => (await createCliDatabase())!);
});
