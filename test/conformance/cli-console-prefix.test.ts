/**
 * `gatehouse` with GATEHOUSE_CONSOLE_PATH (issue 11, point 3): the setup link
 * printed at start and by `user add` (through the running server's admin
 * socket, or straight to the database with no server) is under the console
 * path and opens the setup page there; a bad value stops start-up with one
 * line naming the variable.
 */
import { afterAll, describe, expect, it } from "vitest";
import { createCliDatabase, expectOneLineError, killAll, removeTempDirs, run, startServer, tempDir, waitExit, type Child, type Env } from "../helpers/cli.js";
import { freePort } from "../helpers/server.js";

const LINK = /http:\/\/localhost:(\d+)(\/[^?\s]*)\?token=([A-Za-z0-9_-]{43})/;

afterAll(async () => {
  await killAll();
  await removeTempDirs();
});

/** The link in the output: its path, and whether the setup page answers it (and not at the root). */
async function openLink(output: string, port: string): Promise<{ path: string; status: number; rootStatus: number }> {
  const match = LINK.exec(output);
  if (!match) throw new Error(`no setup link in ${output}`);
  expect(match[1]).toBe(port);
  const status = (await fetch(`http://127.0.0.1:${port}${match[2]}?token=${match[3]}`)).status;
  const rootStatus = (await fetch(`http://127.0.0.1:${port}/setup?token=${match[3]}`)).status;
  return { path: match[2]!, status, rootStatus };
}

for (const driver of ["pglite", "postgres"] as const) {
  describe(`setup links under GATEHOUSE_CONSOLE_PATH (${driver})`, { timeout: 240_000 }, () => {
    let env: Env;
    let server: Child | undefined;
    let drop = async () => {};

    it("start prints the first-account link under the console path; user add prints a set-password link under it, server running or not", async (context) => {
      const database = driver === "postgres" ? await createCliDatabase() : null;
      if (driver === "postgres" && !database) return context.skip();
      if (database) drop = () => database.drop();
      env = {
        GATEHOUSE_DATA_DIR: await tempDir(), PORT: String(await freePort()), GATEHOUSE_CONSOLE_PATH: "/gatehouse",
        ...(database ? { DATABASE_URL: database.url } : {}),
      };
      try {
        server = await startServer(env);
        expect(await openLink(server.stdout, env.PORT!)).toEqual({ path: "/gatehouse/setup", status: 200, rootStatus: 404 });

        const running = await run(["user", "add", "b@example.com"], env);
        expect(running.code).toBe(0);
        expect(await openLink(running.stdout, env.PORT!)).toEqual({ path: "/gatehouse/setup", status: 200, rootStatus: 404 });

        server.process.kill("SIGTERM");
        expect(await waitExit(server, 15_000)).toBe(0);
        const stopped = await run(["user", "add", "c@example.com"], env);
        expect(stopped.code).toBe(0);
        expect(LINK.exec(stopped.stdout)?.[2]).toBe("/gatehouse/setup");
      } finally {
        await killAll();
        await drop();
      }
    });
  });
}

describe("a bad GATEHOUSE_CONSOLE_PATH", { timeout: 240_000 }, () => {
  it.each(["/oauth", "/gatehouse/", "gatehouse"])("%j stops start with one line naming the variable", async (value) => {
    const result = await run(["start"], { GATEHOUSE_DATA_DIR: await tempDir(), PORT: String(await freePort()), GATEHOUSE_CONSOLE_PATH: value });
    expect(result.code).toBe(1);
    expectOneLineError(result.stderr, /^gatehouse: GATEHOUSE_CONSOLE_PATH: .*got "/);
  });
});
