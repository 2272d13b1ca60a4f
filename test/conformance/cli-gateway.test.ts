/**
 * `gatehouse start --config` (gateway mode, issue 12) as an operator runs it:
 * a bad file stops start-up with one line naming the field; a good one puts
 * its upstreams on /readyz; SIGTERM stops the upstream's whole process group.
 */
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { expectOneLineError, killAll, removeTempDirs, run, startServer, tempDir, until, waitExit } from "../helpers/cli.js";
import { freePort } from "../helpers/server.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

afterAll(async () => {
  await killAll();
  await removeTempDirs();
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("gatehouse start --config", { timeout: 120_000 }, () => {
  it("refuses a bad file with one line naming the file and the field, exit 1", async () => {
    const dir = await tempDir();
    const file = path.join(dir, "gatehouse.config.json");
    writeFileSync(file, JSON.stringify({ upstreams: [{ name: "a", command: "x" }, { name: "b", command: 3 }] }));
    const result = await run(["start", "--config", file], { GATEHOUSE_DATA_DIR: dir, PORT: String(await freePort()) });
    expect(result.code).toBe(1);
    expectOneLineError(result.stderr, /^gatehouse: .*gatehouse\.config\.json: upstreams\[1\]\.command: expected a string$/);
  });

  it("serves the file's upstreams, and SIGTERM leaves none of their processes", async () => {
    const dir = await tempDir();
    const file = path.join(dir, "gatehouse.config.json");
    const pidFile = path.join(dir, "upstream.pid");
    const upstream = {
      name: "local",
      command: process.execPath,
      args: ["--import", "tsx", path.join(ROOT, "test/fixtures/upstream-stdio.ts")],
      cwd: ROOT,
      env: { GATEWAY_FIXTURE_GRANDCHILD: "1", GATEWAY_FIXTURE_PIDFILE: pidFile },
    };
    writeFileSync(file, JSON.stringify({ upstreams: [upstream] }));
    const port = String(await freePort());
    const server = await startServer({ GATEHOUSE_DATA_DIR: dir, PORT: port, GATEHOUSE_CONFIG: file });
    const ready = (await (await fetch(`http://127.0.0.1:${port}/readyz`)).json()) as { upstreams: unknown[] };
    expect(ready.upstreams).toEqual([{ name: "local", transport: "stdio", status: "up", restarts: 0 }]);
    expect(server.stderr).toContain("fixture-stdio ready");

    const { pid, grandchild } = JSON.parse(readFileSync(pidFile, "utf8")) as { pid: number; grandchild: number };
    expect(alive(pid) && alive(grandchild)).toBe(true);
    server.process.kill("SIGTERM");
    expect(await waitExit(server, 30_000)).toBe(0);
    await until("the upstream's processes to be gone", () => !alive(pid) && !alive(grandchild), 5000);
  });
});
