/**
 * The admin role and disabled accounts by CLI (issue 11): `gatehouse user add
 * --admin`, `user disable`, `user enable` — while a server runs (PGlite:
 * through its admin socket; PostgreSQL: the CLI opens the database and tells
 * the server on the bus) and with none running.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createCliDatabase, killAll, removeTempDirs, run, startServer, tempDir, type Env } from "../helpers/cli.js";
import { get } from "../helpers/console.js";
import { CookieJar, connect, formFields, mcpStatusAfterRevocation, mcpBearerStatus, refreshGrant, expectOAuthError, signIn, visibleText } from "../helpers/oauth.js";
import { freePort } from "../helpers/server.js";

const PASSWORD = "correct horse battery";

afterAll(async () => {
  await killAll();
  await removeTempDirs();
});

async function loginStatus(base: string, email: string): Promise<{ status: number; text: string }> {
  const jar = new CookieJar();
  const page = await fetch(`${base}/login`);
  jar.absorb(page);
  const response = await fetch(`${base}/login`, {
    method: "POST",
    redirect: "manual",
    headers: { "content-type": "application/x-www-form-urlencoded", cookie: jar.header() },
    body: new URLSearchParams({ ...formFields(await page.text(), "/login"), email, password: PASSWORD }),
  });
  return { status: response.status, text: visibleText(await response.text()) };
}

describe("user commands for the admin role: help", { timeout: 120_000 }, () => {
  it("lists user disable, user enable and --admin", async () => {
    const main = await run(["--help"], {});
    for (const command of ["user disable <email>", "user enable <email>", "--admin"]) expect(main.stdout).toContain(command);
    const add = await run(["user", "add", "--help"], {});
    expect(add.stdout).toMatch(/--admin makes it an admin/);
    const disable = await run(["user", "disable", "--help"], {});
    expect(disable.code).toBe(0);
    expect(disable.stdout).toMatch(/^Usage: gatehouse user disable <email>/);
    expect((await run(["user", "disable"], { GATEHOUSE_DATA_DIR: await tempDir() })).code).toBe(2);
  });
});

function adminFlow(driver: "pglite" | "postgres", makeDatabase: () => Promise<{ url?: string; drop(): Promise<void> }>) {
  describe(`admin role and disabled accounts by CLI while a server runs (${driver})`, { timeout: 240_000 }, () => {
    let env: Env;
    let base: string;
    let drop: () => Promise<void> = async () => {};
    const cli = (args: string[], stdin?: string) => run(args, env, stdin);

    beforeAll(async () => {
      const database = await makeDatabase();
      drop = () => database.drop();
      const port = await freePort();
      base = `http://127.0.0.1:${port}`;
      env = { GATEHOUSE_DATA_DIR: await tempDir(), PORT: String(port), GATEHOUSE_PUBLIC_URL: base, ...(database.url ? { DATABASE_URL: database.url } : {}) };
      await startServer(env);
    });
    afterAll(async () => {
      await killAll();
      await drop();
    });

    it("user add --admin makes an admin: /admin answers it, and 403 to a plain account", async () => {
      const admin = await cli(["user", "add", "root@example.com", "--admin", "--password-stdin"], `${PASSWORD}\n`);
      expect(admin.code, admin.stderr).toBe(0);
      expect(admin.stdout).toMatch(/^Created admin root@example\.com/);
      const plain = await cli(["user", "add", "alice@example.com", "--password-stdin"], `${PASSWORD}\n`);
      expect(plain.code, plain.stderr).toBe(0);
      expect(plain.stdout).toMatch(/^Created alice@example\.com/);
      expect((await get(base, "/admin", await signIn(base, "root@example.com", PASSWORD))).status).toBe(200);
      expect((await get(base, "/admin", await signIn(base, "alice@example.com", PASSWORD))).status).toBe(403);
      const list = await cli(["user", "list"]);
      expect(list.stdout).toMatch(/^root@example\.com\t\S+\tadmin\tactive\t/m);
      expect(list.stdout).toMatch(/^alice@example\.com\t\S+\tuser\tactive\t/m);
    });

    it("user disable ends the account's tokens and refuses its sign-in; user enable lets it sign in again", async () => {
      const jar = await signIn(base, "alice@example.com", PASSWORD);
      const { client, tokens } = await connect(base, jar);
      expect(await mcpBearerStatus(base, tokens.access_token)).not.toBe(401);
      const disabled = await cli(["user", "disable", "alice@example.com"]);
      expect(disabled.code, disabled.stderr).toBe(0);
      expect(disabled.stdout).toContain("Disabled alice@example.com");
      expect(await mcpStatusAfterRevocation(base, tokens.access_token)).toBe(401);
      expectOAuthError(await refreshGrant(base, client.client_id, tokens.refresh_token), 400, "invalid_grant");
      const refused = await loginStatus(base, "alice@example.com");
      expect(refused.status).toBe(403);
      expect(refused.text).toContain("This account is disabled.");
      expect((await cli(["user", "list"])).stdout).toMatch(/^alice@example\.com\t\S+\tuser\tdisabled\t/m);

      const enabled = await cli(["user", "enable", "alice@example.com"]);
      expect(enabled.code, enabled.stderr).toBe(0);
      expect(enabled.stdout).toContain("Enabled alice@example.com");
      expect((await get(base, "/user", await signIn(base, "alice@example.com", PASSWORD))).status).toBe(200);
      expect(await mcpBearerStatus(base, tokens.access_token)).toBe(401);
      const missing = await cli(["user", "disable", "nobody@example.com"]);
      expect(missing.code).toBe(1);
      expect(missing.stderr).toMatch(/^gatehouse: No account for nobody@example\.com/);
    });
  });
}

adminFlow("pglite", async () => ({ drop: async () => {} }));
describe.runIf(inject("pgAdminUrl") !== null)("on PostgreSQL", () => {
  adminFlow("postgres", async () => (await createCliDatabase())!);
});

describe("admin role and disabled accounts by CLI with no server running (pglite)", { timeout: 240_000 }, () => {
  it("user add --admin, disable and enable open the data directory themselves", async () => {
    const env = { GATEHOUSE_DATA_DIR: await tempDir() };
    expect((await run(["user", "add", "root@example.com", "--admin", "--password-stdin"], env, `${PASSWORD}\n`)).code).toBe(0);
    expect((await run(["user", "add", "bob@example.com", "--password-stdin"], env, `${PASSWORD}\n`)).code).toBe(0);
    const disabled = await run(["user", "disable", "bob@example.com"], env);
    expect(disabled.code, disabled.stderr).toBe(0);
    const users = JSON.parse((await run(["user", "list", "--json"], env)).stdout) as { email: string; role: string; disabled: boolean }[];
    expect(users.map(({ email, role, disabled }) => ({ email, role, disabled }))).toEqual([
      { email: "root@example.com", role: "admin", disabled: false },
      { email: "bob@example.com", role: "user", disabled: true },
    ]);
    expect((await run(["user", "enable", "bob@example.com"], env)).code).toBe(0);
    expect((await run(["user", "list"], env)).stdout).toMatch(/^bob@example\.com\t\S+\tuser\tactive\t/m);
  });
});
