/**
 * The restart backoff reads the injected clock: a stdio server that was up
 * for STABLE_AFTER_MS by that clock restarts at once, one that died young
 * waits 250 ms, then twice as long. (With the wall clock, both deaths here
 * would be young.)
 */
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ManualClock } from "../clock.js";
import type { Logger } from "../logger.js";
import { Upstream } from "./upstream.js";

const FIXTURE = path.join(import.meta.dirname, "../../test/fixtures/upstream-stdio.ts");

function recordingLogger(lines: { message: string; fields?: Record<string, unknown> }[]): Logger {
  const record = (message: string, fields?: Record<string, unknown>) => void lines.push({ message, ...(fields ? { fields } : {}) });
  return { debug: record, info: record, warn: record, error: record };
}

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 400 && !check(); i++) await new Promise((resolve) => setTimeout(resolve, 25));
  expect(check()).toBe(true);
}

describe("Upstream restart backoff", () => {
  let upstream: Upstream | undefined;
  afterEach(async () => {
    await upstream?.close();
  });

  it("starts over when the server was up long enough by the injected clock", async () => {
    const clock = new ManualClock();
    const lines: { message: string; fields?: Record<string, unknown> }[] = [];
    upstream = new Upstream(
      { kind: "stdio", name: "fixture", command: process.execPath, args: ["--import", "tsx", FIXTURE], env: {}, cwd: path.join(import.meta.dirname, "../..") },
      recordingLogger(lines),
      clock,
    );
    const downs = () => lines.filter((l) => l.message === "upstream down").map((l) => l.fields?.retryInMs);

    await upstream.listTools();
    process.kill(upstream.pid!, "SIGKILL");
    await until(() => downs().length === 1);
    expect(downs()).toEqual([250]);
    await until(() => upstream!.health().status === "up" && upstream!.health().restarts === 1);

    clock.advance(10_000);
    process.kill(upstream.pid!, "SIGKILL");
    await until(() => downs().length === 2);
    expect(downs()).toEqual([250, 0]);
    await until(() => upstream!.health().status === "up" && upstream!.health().restarts === 2);
  }, 30_000);
});
