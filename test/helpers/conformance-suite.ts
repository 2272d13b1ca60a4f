/**
 * Running the official MCP conformance suite (`@modelcontextprotocol/conformance`,
 * pinned) as a child process on the pinned Node 22 binary that the global
 * setup provides (test/helpers/node22.ts), and reading the checks it writes.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import { inject } from "vitest";

const require = createRequire(import.meta.url);

/** Where the pinned suite is installed (its requirements files live there). */
export function suitePackageDir(): string {
  return path.dirname(require.resolve("@modelcontextprotocol/conformance/package.json"));
}

export interface Check {
  id: string;
  name: string;
  status: string;
  description?: string;
  errorMessage?: string;
}

export interface SuiteExit {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** Why this test killed the suite, if it did. */
  killedBecause: string | null;
  stdout: string;
  stderr: string;
}

export interface SuiteProcess {
  process: ChildProcess;
  /** Kills the suite, recording why. */
  kill(reason: string): void;
  exited: Promise<SuiteExit>;
}

/** Starts the suite's CLI with `args`; killed after `timeoutMs`. `onStdout` sees the whole output so far on every chunk. */
export function spawnSuite(args: string[], timeoutMs: number, onStdout?: (stdout: string) => void): SuiteProcess {
  const node = inject("node22");
  if (!existsSync(node)) throw new Error(`Node 22 binary missing at ${node}`);
  const pkg = JSON.parse(readFileSync(path.join(suitePackageDir(), "package.json"), "utf8")) as { bin: Record<string, string> };
  const cli = path.join(suitePackageDir(), pkg.bin.conformance!);
  const proc = spawn(node, [cli, ...args], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0" } });
  let stdout = "";
  let stderr = "";
  let killedBecause: string | null = null;
  const kill = (reason: string) => {
    killedBecause ??= reason;
    proc.kill("SIGKILL");
  };
  proc.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
    stdout += chunk;
    onStdout?.(stdout);
  });
  proc.stderr!.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  const exited = new Promise<SuiteExit>((resolve) => {
    const timer = setTimeout(() => kill(`no result within ${timeoutMs} ms`), timeoutMs);
    proc.on("close", (exitCode, signal) => {
      clearTimeout(timer);
      resolve({ exitCode, signal, killedBecause, stdout, stderr });
    });
  });
  return { process: proc, kill, exited };
}

/** Every check the suite wrote under `outputDir` (`<dir>/<run>/checks.json`), keyed by the scenario `scenarioOf` finds in the run's directory name. */
export async function readChecks(outputDir: string, scenarioOf: (entry: string) => string | undefined): Promise<Record<string, Check[]>> {
  const result: Record<string, Check[]> = {};
  for (const entry of await readdir(outputDir)) {
    const scenario = scenarioOf(entry);
    if (!scenario) continue;
    // The suite makes the directory before the scenario runs; a killed run leaves it without checks.json.
    const file = path.join(outputDir, entry, "checks.json");
    if (existsSync(file)) result[scenario] = JSON.parse(await readFile(file, "utf8")) as Check[];
  }
  return result;
}
