/**
 * The package as an embedder gets it: `npm pack` (which builds), install the
 * tarball in a fresh project (its dependencies, and Express, from the npm
 * registry), and run the README's embedding examples (Hono, Express) exactly
 * as written. Slow (an npm install), so it is a file of its own.
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

type Example = "embedding-example" | "express-example";

/** The fenced block between the README's `<example>:start` / `<example>:end` markers. */
async function readmeExample(example: Example): Promise<string> {
  const readme = await readFile(path.join(repo, "README.md"), "utf8");
  const match = new RegExp(`<!-- ${example}:start -->\\s*\`\`\`js\\n([\\s\\S]*?)\`\`\`\\s*<!-- ${example}:end -->`).exec(readme);
  if (!match) throw new Error(`README has no ${example} between its markers`);
  return match[1]!;
}

interface RunningExample {
  port: number;
  output(): string;
  stop(): void;
}

/** Saves the README example as `file` in the project, runs it with `node` and waits for its "listening on". */
async function runExample(project: string, example: Example, file: string): Promise<RunningExample> {
  await writeFile(path.join(project, file), await readmeExample(example));
  const port = await freePort();
  const child = spawn(process.execPath, [file], {
    cwd: project,
    env: { ...process.env, PORT: String(port), GATEHOUSE_LOG_LEVEL: "warn", GATEHOUSE_PUBLIC_URL: "" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const deadline = Date.now() + 30_000;
  while (!output.includes("listening on")) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill("SIGTERM");
      throw new Error(`the example did not start:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { port, output: () => output, stop: () => child.kill("SIGTERM") };
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
    await run("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", tarball, "express@5"], { cwd: project, maxBuffer: 16 << 20 });
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
    const example = await runExample(project, "embedding-example", "server.mjs");
    const { port } = example;
    try {
      const output = example.output();
      expect(output).toContain(`listening on http://localhost:${port}`);
      const health = await fetch(`http://127.0.0.1:${port}/healthz`);
      expect(health.status).toBe(200);
      const link = /set a password for me@example\.com: (\S+)/.exec(output)?.[1];
      expect(link, output).toMatch(new RegExp(`^http://localhost:${port}/setup\\?token=`));
      const setup = await fetch(link!.replace("localhost", "127.0.0.1"));
      expect(setup.status).toBe(200);
      expect(await setup.text()).toContain("me@example.com");
    } finally {
      example.stop();
    }
  });

  it("runs the README's Express example as written: /healthz, a registration through express.json(), the app's own route", async () => {
    const example = await runExample(project, "express-example", "express-server.mjs");
    const base = `http://127.0.0.1:${example.port}`;
    try {
      expect(example.output()).toContain(`listening on http://localhost:${example.port}`);
      expect(example.output()).toMatch(/set a password for me@example\.com: http:\/\/localhost:\d+\/setup\?token=/);
      const health = await fetch(`${base}/healthz`);
      expect(health.status).toBe(200);
      const registration = await fetch(`${base}/oauth/register`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ client_name: "packed", redirect_uris: ["http://127.0.0.1:9999/callback"], token_endpoint_auth_method: "none" }),
      });
      const registered = await registration.text();
      expect(registration.status, registered).toBe(201);
      expect((JSON.parse(registered) as { client_name: string }).client_name).toBe("packed");
      const own = await fetch(`${base}/hello`);
      expect(own.status).toBe(200);
      expect(await own.json()).toEqual({ hello: "from your app" });
    } finally {
      example.stop();
    }
  });
});
