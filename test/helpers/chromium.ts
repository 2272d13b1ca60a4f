/**
 * Debian's Chromium for the browser tests (PRODUCT §1, §2): found at
 * `GATEHOUSE_CHROMIUM` or `/usr/bin/chromium`; when missing and running as
 * root, installed once with apt (under a lock, so parallel test files do not
 * race apt); otherwise the run stops with one line saying how to install it.
 * Never a silent skip.
 */
import { execFileSync } from "node:child_process";
import { accessSync, constants, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type BrowserContext } from "playwright-core";

export const DEFAULT_CHROMIUM = "/usr/bin/chromium";

/** The machine has no internet: nothing in the browser may try to reach it (ISSUE 5). */
export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

let found: string | null = null;

/** The Chromium binary, installing Debian's package first when that is possible. Throws one clear line otherwise. */
export function chromiumExecutable(): string {
  if (found) return found;
  const configured = process.env.GATEHOUSE_CHROMIUM;
  if (configured !== undefined && configured !== "") {
    if (!executable(configured)) throw new Error(`GATEHOUSE_CHROMIUM=${configured} is not an executable file: point it at a Chromium binary, or unset it to use ${DEFAULT_CHROMIUM}`);
    return (found = configured);
  }
  if (executable(DEFAULT_CHROMIUM)) return (found = DEFAULT_CHROMIUM);
  if (process.getuid?.() !== 0) {
    throw new Error(`Chromium not found at ${DEFAULT_CHROMIUM}: install it with \`sudo apt-get install -y chromium\` (Debian) or set GATEHOUSE_CHROMIUM to a Chromium binary`);
  }
  console.log(`[e2e] ${DEFAULT_CHROMIUM} is missing: installing Debian's chromium package (apt-get update && apt-get install -y chromium)…`);
  const started = Date.now();
  try {
    // flock: another test process installing at the same moment waits, then finds the binary.
    execFileSync(
      "flock",
      [join(tmpdir(), "gatehouse-chromium-install.lock"), "sh", "-c", `test -x ${DEFAULT_CHROMIUM} || { apt-get update && apt-get install -y chromium; }`],
      { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" }, maxBuffer: 64 * 1024 * 1024 },
    );
  } catch (error) {
    const stderr = String((error as { stderr?: Buffer }).stderr ?? "").trim().split("\n").slice(-5).join(" | ");
    throw new Error(`installing chromium with apt-get failed (${stderr || (error as Error).message}): install it by hand with \`apt-get install -y chromium\``, {
      cause: error,
    });
  }
  if (!executable(DEFAULT_CHROMIUM)) throw new Error(`apt-get installed chromium but ${DEFAULT_CHROMIUM} is still missing`);
  console.log(`[e2e] installed ${DEFAULT_CHROMIUM} in ${Math.round((Date.now() - started) / 1000)} s`);
  return (found = DEFAULT_CHROMIUM);
}

export interface Browser {
  context: BrowserContext;
  /** Closes the browser and removes its profile directory. */
  close(): Promise<void>;
}

/** Headless Chromium with a fresh, throw-away profile (`--user-data-dir`). */
export async function launchChromium(options: { viewport?: { width: number; height: number } } = {}): Promise<Browser> {
  const executablePath = chromiumExecutable();
  const userDataDir = mkdtempSync(join(tmpdir(), "gatehouse-chromium-"));
  try {
    const context = await chromium.launchPersistentContext(userDataDir, {
      executablePath,
      args: CHROMIUM_ARGS,
      headless: true,
      viewport: options.viewport ?? { width: 1024, height: 800 },
      colorScheme: "light",
      locale: "en-US",
      timeout: 60_000,
    });
    return {
      context,
      async close() {
        await context.close().catch(() => {});
        rmSync(userDataDir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    rmSync(userDataDir, { recursive: true, force: true });
    throw error;
  }
}
