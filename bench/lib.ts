/** Small helpers for `npm run bench`: timing, temp data, throwaway PostgreSQL databases. */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import type { Config } from "../src/config.js";
import { silentLogger } from "../src/logger.js";
import { startServer, type RunningServer, type StartOptions } from "../src/server.js";

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/**
 * Up to `total` ops spread over `concurrency` callers that each take the next
 * index until none is left or `budgetMs` has passed (so a slow backend cannot
 * blow the run's time limit); returns how many ran and their rate.
 */
export async function opsPerSecond(
  total: number,
  concurrency: number,
  op: (i: number) => Promise<unknown>,
  budgetMs = Infinity,
): Promise<{ count: number; perSecond: number }> {
  let next = 0;
  const started = performance.now();
  const deadline = started + budgetMs;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total && performance.now() < deadline) await op(next++);
    }),
  );
  return { count: next, perSecond: next / ((performance.now() - started) / 1000) };
}

/** Milliseconds from calling startServer to the first 200 from /readyz, and the server (still running). */
export async function timeToReady(
  config: Config,
  options: Pick<StartOptions, "gatehouse" | "appDeps" | "drainMs"> = {},
): Promise<{ ms: number; running: RunningServer }> {
  const started = performance.now();
  const running = await startServer({ ...options, config, logger: silentLogger, onSetupLink: () => {} });
  for (const deadline = performance.now() + 10_000; performance.now() < deadline; await sleep(2)) {
    const res = await fetch(`${running.url}/readyz`);
    await res.arrayBuffer();
    if (res.status === 200) return { ms: performance.now() - started, running };
  }
  await running.close();
  throw new Error("/readyz did not answer 200 within 10 s of start-up");
}

/** A free loopback port: /mcp checks the Host header against the public URL, so the port must be known up front. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export async function tempDir(): Promise<{ dir: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "gatehouse-bench-"));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

async function adminQuery(adminUrl: string, statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.query(statement);
  } finally {
    await client.end().catch(() => {});
  }
}

export async function postgresAnswers(adminUrl: string): Promise<boolean> {
  return adminQuery(adminUrl, "SELECT 1").then(
    () => true,
    () => false,
  );
}

/** A fresh database on the server of `adminUrl`, dropped (WITH FORCE) by `drop`. */
export async function freshPostgres(adminUrl: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `gatehouse_bench_${randomBytes(6).toString("hex")}`;
  await adminQuery(adminUrl, `CREATE DATABASE ${name}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return { url: url.toString(), drop: () => adminQuery(adminUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}

const WIDTHS = [16, 12, 11, 9, 11, 9, 11, 9];

/** One row of a fixed-width table: the first two columns left-aligned, numbers right-aligned. */
export function row(cells: string[]): string {
  return cells.map((cell, i) => (i < 2 ? cell.padEnd(WIDTHS[i] ?? 11) : cell.padStart(WIDTHS[i] ?? 11))).join(" ").trimEnd();
}

export const fmtOps = (n: number) => Math.round(n).toLocaleString("en-US");
export const fmtRatio = (n: number) => `${n >= 0.1 ? n.toFixed(2) : n.toPrecision(2)}×`;
