import { describe, expect, it } from "vitest";
import type { RateLimit } from "../storage/rate-limit.js";
import { unlimited } from "../storage/rate-limit.js";
import { ClientLookupThrottled, FetchGate } from "./cimd-gate.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function throttled(p: Promise<unknown>): Promise<ClientLookupThrottled> {
  const error = await p.then(() => null, (e: unknown) => e);
  expect(error).toBeInstanceOf(ClientLookupThrottled);
  return error as ClientLookupThrottled;
}

describe("FetchGate", () => {
  it("a waiter gets the first slot that frees up, in arrival order", async () => {
    const gate = new FetchGate({ perAddress: unlimited, maxConcurrent: 1, maxWaitMs: 1000 });
    const order: string[] = [];
    const first = gate.run("a", async () => { await sleep(50); order.push("first"); });
    const second = gate.run("b", async () => { order.push("second"); });
    const third = gate.run("c", async () => { order.push("third"); });
    await Promise.all([first, second, third]);
    expect(order).toEqual(["first", "second", "third"]);
    expect(gate.inFlight).toBe(0);
  });

  it("refuses as busy (503, Retry-After) once the wait is over, and the slot count stays right", async () => {
    const gate = new FetchGate({ perAddress: unlimited, maxConcurrent: 1, maxWaitMs: 30 });
    const slow = gate.run("a", () => sleep(100));
    const error = await throttled(gate.run("b", async () => "never"));
    expect(error.reason).toBe("busy");
    expect(error.status).toBe(503);
    expect(error.headers["Retry-After"]).toMatch(/^\d+$/);
    await slow;
    expect(gate.inFlight).toBe(0);
    await expect(gate.run("c", async () => "ran")).resolves.toBe("ran");
  });

  it("a failed fetch frees its slot", async () => {
    const gate = new FetchGate({ perAddress: unlimited, maxConcurrent: 1 });
    await expect(gate.run("a", () => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
    expect(gate.inFlight).toBe(0);
  });

  it("refuses an address over its limit (429) before taking a slot or fetching", async () => {
    const perAddress: RateLimit = { ...unlimited, consume: async (ip) => (ip === "over" ? 42 : null) };
    const gate = new FetchGate({ perAddress });
    let fetched = false;
    const error = await throttled(gate.run("over", async () => { fetched = true; }));
    expect(error.reason).toBe("address");
    expect(error.status).toBe(429);
    expect(error.headers["Retry-After"]).toBe("42");
    expect(fetched).toBe(false);
    expect(gate.inFlight).toBe(0);
  });
});
