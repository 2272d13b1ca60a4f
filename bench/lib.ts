/** Small helpers for `npm run bench`: timing, temp data, throwaway PostgreSQL databases. */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import type { Config } from "../src/config.js";
import { silentLogger } from "../src/logger.js";
import { startServer } from "../src/server.js";

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** Total ops spread over `concurrency` callers that each take the next index until none is left. */
export async function opsPerSecond(total: number, concurrency: number, op: (i: number) => Promise<unknown>): Promise<number> {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) await op(next++);
    }),
  );
  return total / ((performance.now() - started) / 1000);
}

/** Milliseconds from calling startServer to the first 200 from /readyz; the server is closed after. */
export async function timeToReady(config: Config): Promise<number> {
  const started = performance.now();
  const running = await startServer({ config, logger: silentLogger, onSetupLink: () => {} });
  try {
    for (const deadline = started + 20_000; performance.now() < deadline; await sleep(5)) {
      const res = await fetch(`${running.url}/readyz`);
      await res.arrayBuffer();
      if (res.status === 200) return performance.now() - started;
    }
    throw new Error("/readyz did not answer 200 within 20 s");
  } finally {
    await running.close();
  }
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

const WIDTHS = [16, 11, 11, 9, 11, 9, 11, 9];

/** One row of a fixed-width table: the first two columns left-aligned, numbers right-aligned. */
export function row(cells: string[]): string {
  return cells.map((cell, i) => (i < 2 ? cell.padEnd(WIDTHS[i] ?? 11) : cell.padStart(WIDTHS[i] ?? 11))).join(" ").trimEnd();
}

export const fmtOps = (n: number) => Math.round(n).toLocaleString("en-US");
export const fmtRatio = (n: number) => `${n >= 0.1 ? n.toFixed(2) : n.toPrecision(2)}×`;
