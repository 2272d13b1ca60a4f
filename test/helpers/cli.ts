/**
 * Running `gatehouse` as a user runs it: a child process per command (the
 * built CLI, `dist/cli.js`, which `npm test` builds first), checked by exit
 * code, stdout and stderr only. No child outlives its test: `run` reaps its
 * own, and a suite's afterAll calls `killAll` and `removeTempDirs`.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { expect, inject } from "vitest";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const CLI = path.join(ROOT, "dist", "cli.js");
export const STACK_FRAME = "    at ";

export type Env = Record<string, string>;

export interface Child {
  process: ChildProcess;
  stdout: string;
  stderr: string;
  exited: Promise<number | null>;
}

const children = new Set<Child>();
const tempDirs: string[] = [];

export function spawnCli(args: string[], env: Env, stdin?: string): Child {
  // The test's own environment minus anything Gatehouse reads, so the host's settings cannot leak in.
  const base = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !/^(PORT|HOST|DATABASE_URL|GATEHOUSE_.*)$/.test(k)),
  ) as Env;
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build (npm test does)`);
  const proc = spawn(process.execPath, [CLI, ...args], {
    cwd: ROOT,
    env: { ...base, HOST: "127.0.0.1", ...env },
    stdio: ["pipe", "pipe", "pipe"],
  });
  const child: Child = {
    process: proc,
    stdout: "",
    stderr: "",
    exited: new Promise((resolve) => proc.once("exit", (code) => resolve(code))),
  };
  proc.stdout!.on("data", (chunk: Buffer) => (child.stdout += chunk.toString("utf8")));
  proc.stderr!.on("data", (chunk: Buffer) => (child.stderr += chunk.toString("utf8")));
  proc.stdin!.end(stdin);
  children.add(child);
  void child.exited.then(() => children.delete(child));
  return child;
}

export async function waitExit(child: Child, timeoutMs = 90_000): Promise<number | null> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no exit within ${timeoutMs} ms; stderr: ${child.stderr}`)), timeoutMs);
  });
  try {
    return await Promise.race([child.exited, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

// Each command is a Node process loading the whole app through tsx (~1.5 s of CPU):
// run at most one per core at a time, or concurrent tests starve each other into timeouts.
let slots = Math.max(1, os.availableParallelism());
const queue: (() => void)[] = [];
async function withSlot<T>(fn: () => Promise<T>): Promise<T> {
  if (slots > 0) slots--;
  else await new Promise<void>((resolve) => queue.push(resolve));
  try {
    return await fn();
  } finally {
    const next = queue.shift();
    if (next) next();
    else slots++;
  }
}

/** Runs one command to completion; the child never outlives the call, even when it hangs. */
export function run(args: string[], env: Env, stdin?: string) {
  return withSlot(async () => {
    const child = spawnCli(args, env, stdin);
    try {
      const code = await waitExit(child);
      return { code, stdout: child.stdout, stderr: child.stderr };
    } finally {
      await kill(child);
    }
  });
}

export async function kill(child: Child): Promise<void> {
  if (child.process.exitCode === null && child.process.signalCode === null) child.process.kill("SIGKILL");
  await child.exited;
}

export async function killAll(): Promise<void> {
  await Promise.all([...children].map(kill));
}

export async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

export async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "gatehouse-cli-"));
  tempDirs.push(dir);
  return dir;
}

export const ok = async (url: string) => {
  try {
    return (await fetch(url)).status === 200;
  } catch {
    return false;
  }
};

/** Starts `gatehouse start` and waits until /readyz answers 200 and the banner is printed. */
export async function startServer(env: Env): Promise<Child> {
  const child = spawnCli(["start"], env);
  await until("the server to be ready", async () => {
    if (child.process.exitCode !== null) throw new Error(`start exited with ${child.process.exitCode}: ${child.stderr}`);
    return /Gatehouse is listening/.test(child.stdout) && (await ok(`http://127.0.0.1:${env.PORT}/readyz`));
  });
  return child;
}

/** Asserts the failure shape of §3: one `gatehouse: …` line first on stderr, no stack trace. */
export function expectOneLineError(stderr: string, pattern: RegExp): void {
  const lines = stderr.split("\n").filter(Boolean);
  expect(lines[0]).toMatch(/^gatehouse: /);
  expect(lines[0]).toMatch(pattern);
  expect(lines.filter((line) => line.startsWith("gatehouse:"))).toHaveLength(1);
  expect(stderr).not.toContain(STACK_FRAME);
}

/** Removes every directory `tempDir` made. */
export async function removeTempDirs(): Promise<void> {
  await Promise.all(tempDirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
}

/** A fresh PostgreSQL database for CLI children (which open it by URL), or null when this run has no PostgreSQL. */
export async function createCliDatabase(): Promise<{ url: string; drop(): Promise<void> } | null> {
  const adminUrl = inject("pgAdminUrl");
  if (!adminUrl) return null;
  const name = `gatehouse_cli_${randomBytes(6).toString("hex")}`;
  const admin = async (statement: string) => {
    const client = new pg.Client({ connectionString: adminUrl });
    await client.connect();
    try {
      await client.query(statement);
    } finally {
      await client.end();
    }
  };
  await admin(`CREATE DATABASE ${name}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return { url: url.toString(), drop: () => admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}
