/**
 * The package as an embedder gets it: `npm pack` (which builds), install the
 * tarball in a fresh project (its dependencies from the npm registry), and
 * run the README's embedding example exactly as written. Slow (an npm
 * install), so it is a file of its own.
 */
import { spawn, execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../helpers/server.js";

const run = promisify(execFile);
const repo = path.resolve(import.meta.dirname, "../..");

/** The fenced block between the README's embedding-example markers. */
async function readmeExample(): Promise<string> {
  const readme = await readFile(path.join(repo, "README.md"), "utf8");
  const match = /<!-- embedding-example:start -->\s*```js\n([\s\S]*?)```\s*<!-- embedding-example:end -->/.exec(readme);
  if (!match) throw new Error("README has no embedding example between its markers");
  return match[1]!;
}

/** Relative imports reachable from `entry` among the package's declaration files, and any that name `pg`. */
async function pgInPublicTypes(entry: string): Promise<string[]> {
  const seen = new Set<string>();
  const offending: string[] = [];
  const visit = async (file: string) => {
    if (seen.has(file) || !existsSync(file)) return;
    seen.add(file);
    const text = await readFile(file, "utf8");
    for (const [, specifier] of text.matchAll(/(?:from\s+|import\()\s*["']([^"']+)["']/g)) {
      if (specifier === "pg" || specifier!.startsWith("pg/")) offending.push(path.basename(file));
      if (specifier!.startsWith(".")) await visit(path.resolve(path.dirname(file), specifier!).replace(/\.js$/, ".d.ts"));
    }
  };
  await visit(entry);
  expect(seen.size).toBeGreaterThan(10);
  return offending;
}

describe("the packed library", () => {
  let project: string;
  beforeAll(async () => {
    project = await mkdtemp(path.join(tmpdir(), "gatehouse-embed-"));
    const { stdout } = await run("npm", ["pack", "--silent", "--pack-destination", project], { cwd: repo, maxBuffer: 16 << 20 });
    const tarball = path.join(project, stdout.trim().split("\n").pop()!);
    await writeFile(path.join(project, "package.json"), JSON.stringify({ name: "embedder", private: true, type: "module" }));
    await run("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", tarball], { cwd: project, maxBuffer: 16 << 20 });
  }, 300_000);
  afterAll(async () => {
    if (project) await rm(project, { recursive: true, force: true });
  });

  it("ships the MIT LICENSE, and its public types need no @types/pg", async () => {
    const installed = path.join(project, "node_modules", "mcp-gatehouse");
    expect(await readFile(path.join(installed, "LICENSE"), "utf8")).toMatch(/^MIT License/);
    expect(await readdir(path.join(installed, "drizzle"))).toContain("meta");
    expect(await pgInPublicTypes(path.join(installed, "dist", "index.d.ts"))).toEqual([]);
  });

  it("runs the README's PGlite embedding example as written: it serves /healthz and its setup link", async () => {
    await writeFile(path.join(project, "server.mjs"), await readmeExample());
    const port = await freePort();
    const child = spawn(process.execPath, ["server.mjs"], {
      cwd: project,
      env: { ...process.env, PORT: String(port), GATEHOUSE_LOG_LEVEL: "warn", GATEHOUSE_PUBLIC_URL: "" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    try {
      const deadline = Date.now() + 30_000;
      while (!output.includes("listening on")) {
        if (child.exitCode !== null || Date.now() > deadline) throw new Error(`the example did not start:\n${output}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(output).toContain(`listening on http://localhost:${port}`);
      const health = await fetch(`http://127.0.0.1:${port}/healthz`);
      expect(health.status).toBe(200);
      const link = /set a password for me@example\.com: (\S+)/.exec(output)?.[1];
      expect(link, output).toMatch(new RegExp(`^http://localhost:${port}/setup\\?token=`));
      const setup = await fetch(link!.replace("localhost", "127.0.0.1"));
      expect(setup.status).toBe(200);
      expect(await setup.text()).toContain("me@example.com");
    } finally {
      child.kill("SIGTERM");
    }
  });
});
