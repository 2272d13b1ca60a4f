/**
 * `gatehouse keys rotate|list` (issue 12, identity-token key rotation), run
 * while a gateway server with an `identityToken` upstream runs (PGlite:
 * through its admin socket; PostgreSQL: the CLI opens the database and tells
 * the server on the bus) and with none running. The running server publishes
 * the new key in its JWKS without a restart, and keeps signing with the old
 * one until the publish delay has passed.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { JWK } from "jose";
import { afterAll, describe, expect, inject, it } from "vitest";
import {
  createCliDatabase, expectOneLineError, killAll, removeTempDirs, run, startServer, tempDir, until, waitExit, type Child, type Env,
} from "../helpers/cli.js";
import { freePort } from "../helpers/server.js";
import { startJwtUpstream, type JwtUpstream } from "../fixtures/upstream-jwt.js";

const LINE = /^(\S+)\t(ES256|RS256)\t(next|current|previous|retired)\t(\S+)\t(\S+)$/;

afterAll(async () => {
  await killAll();
  await removeTempDirs();
});

describe.concurrent("keys commands: help and usage", { timeout: 240_000 }, () => {
  it("`gatehouse --help` lists the keys commands", async () => {
    const result = await run(["--help"], {});
    expect(result.code).toBe(0);
    for (const command of ["keys rotate", "keys list"]) expect(result.stdout).toContain(command);
  });

  it.each([
    [["keys", "--help"], /^Usage: gatehouse keys </],
    [["keys", "rotate", "--help"], /^Usage: gatehouse keys rotate \[--alg ES256\|RS256\]/],
    [["keys", "list", "-h"], /^Usage: gatehouse keys list/],
  ])("`gatehouse %s` prints its usage, exit 0", async (args, usage) => {
    const result = await run(args, { GATEHOUSE_DATA_DIR: await tempDir() });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(usage);
  });

  it.each([
    [["keys", "frob"], /unknown keys command "frob"/],
    [["keys", "rotate", "--alg", "HS256"], /--alg must be ES256 or RS256/],
    [["keys", "list", "extra"], /expected 0 arguments, got 1/],
  ])("`gatehouse %s` exits 2", async (args, pattern) => {
    const result = await run(args, { GATEHOUSE_DATA_DIR: await tempDir() });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(pattern);
  });
});

function keysFlow(driver: string, makeDatabase: () => Promise<{ url?: string; drop(): Promise<void> }>) {
  describe(`keys rotate and list (${driver})`, { timeout: 240_000 }, () => {
    let env: Env;
    let base: string;
    let server: Child | undefined;
    let upstream: JwtUpstream | undefined;
    let drop = async () => {};
    const cli = (args: string[]) => run(args, env);
    const jwksKids = async () => ((await (await fetch(`${base}/.well-known/jwks.json`)).json()) as { keys: JWK[] }).keys.map((k) => k.kid);
    const list = async () => {
      const result = await cli(["keys", "list"]);
      expect(result.code, result.stderr).toBe(0);
      return result.stdout.trim().split("\n").map((line) => LINE.exec(line)!.slice(1, 4));
    };

    afterAll(async () => {
      await killAll();
      await upstream?.close();
      await drop();
    });

    it("rotates while the server runs: the new key is published at once and signs later; a second rotation waits; list works offline", async () => {
      const database = await makeDatabase();
      drop = () => database.drop();
      const port = await freePort();
      base = `http://127.0.0.1:${port}`;
      upstream = await startJwtUpstream(base);
      const file = path.join(mkdtempSync(path.join(tmpdir(), "gatehouse-cli-keys-")), "gatehouse.config.json");
      writeFileSync(file, JSON.stringify({ upstreams: [{ name: "remote", url: upstream.url, identityToken: {} }] }));
      env = {
        GATEHOUSE_DATA_DIR: await tempDir(), PORT: String(port), GATEHOUSE_PUBLIC_URL: base, GATEHOUSE_CONFIG: file,
        ...(database.url ? { DATABASE_URL: database.url } : {}),
      };
      server = await startServer(env);
      const [old] = await jwksKids();
      expect(await list()).toEqual([[old, "ES256", "current"]]);

      const rotated = await cli(["keys", "rotate"]);
      expect(rotated.stderr).toBe("");
      expect(rotated.code).toBe(0);
      const fresh = /^Published ES256 key (\S+); it signs from \S+Z\.$/m.exec(rotated.stdout)![1]!;
      expect(rotated.stdout).toMatch(new RegExp(`^ES256 key ${old} signs until then and leaves the JWKS at \\S+Z\\.$`, "m"));
      // The running server rereads its keys on the bus message.
      await until("the new key in the JWKS", async () => (await jwksKids()).length === 2, 20_000);
      expect(await jwksKids()).toEqual([old, fresh]);
      expect(await list()).toEqual([[old, "ES256", "current"], [fresh, "ES256", "next"]]);

      const again = await cli(["keys", "rotate", "--alg", "ES256"]);
      expect(again.code).toBe(1);
      expectOneLineError(again.stderr, new RegExp(`a rotation is under way: key ${fresh} signs from`));

      server.process.kill("SIGTERM");
      expect(await waitExit(server, 15_000)).toBe(0);
      expect(await list()).toEqual([[old, "ES256", "current"], [fresh, "ES256", "next"]]);
      // With none stored for it, an algorithm's first key signs at once.
      const rsa = await cli(["keys", "rotate", "--alg", "RS256"]);
      expect(rsa.code, rsa.stderr).toBe(0);
      expect(rsa.stdout).toMatch(/^Created RS256 key \S+; it signs now\.$/m);
      expect((await list()).filter(([, alg]) => alg === "RS256").map(([, , state]) => state)).toEqual(["current"]);
    });
  });
}

keysFlow("pglite", async () => ({ drop: async () => {} }));
describe.runIf(inject("pgAdminUrl") !== null)("on PostgreSQL", () => {
  keysFlow("postgres", async () => (await createCliDatabase())!);
});
