import { describe, expect, it } from "vitest";
import { ManualClock } from "../clock.js";
import { sha256Hex } from "../crypto.js";
import type { AccessTokenInfo } from "./connections.js";
import { AccessTokenCache } from "./token-cache.js";

const clock = new ManualClock();

function info(connectionId: string, expiresInMs = 3_600_000): AccessTokenInfo {
  return {
    userId: "u1",
    userEmail: "a@example.com",
    clientName: null,
    clientId: "c1",
    connectionId,
    scopes: ["mcp"],
    resource: "https://gh.example/mcp",
    expiresAt: clock.now() + expiresInMs,
  };
}

/** A store whose answers the test controls, counting lookups. */
function fakeStore() {
  const live = new Map<string, AccessTokenInfo>();
  let lookups = 0;
  let gate: Promise<void> | null = null;
  return {
    live,
    get lookups() {
      return lookups;
    },
    hold() {
      let release!: () => void;
      gate = new Promise((resolve) => (release = resolve));
      return () => {
        gate = null;
        release();
      };
    },
    async verify(token: string) {
      lookups++;
      const answer = live.get(token) ?? null;
      if (gate) await gate;
      return answer;
    },
  };
}

describe("AccessTokenCache", () => {
  it("answers a repeated token from memory while the bus is reliable", async () => {
    const store = fakeStore();
    store.live.set("gha_a", info("k1"));
    const cache = new AccessTokenCache((t) => store.verify(t), () => true, clock);
    expect(await cache.verifyAccessToken("gha_a")).toMatchObject({ connectionId: "k1" });
    expect(await cache.verifyAccessToken("gha_a")).toMatchObject({ connectionId: "k1" });
    expect(store.lookups).toBe(1);
  });

  it("asks the store every time while the bus may have missed a revocation", async () => {
    const store = fakeStore();
    store.live.set("gha_a", info("k1"));
    const cache = new AccessTokenCache((t) => store.verify(t), () => false, clock);
    await cache.verifyAccessToken("gha_a");
    await cache.verifyAccessToken("gha_a");
    expect(store.lookups).toBe(2);
  });

  it("a dropped token or connection is looked up again, and an expired entry is not served", async () => {
    const store = fakeStore();
    store.live.set("gha_a", info("k1", 1_000));
    const cache = new AccessTokenCache((t) => store.verify(t), () => true, clock);
    await cache.verifyAccessToken("gha_a");
    store.live.delete("gha_a");
    cache.dropToken(sha256Hex("gha_a"));
    expect(await cache.verifyAccessToken("gha_a")).toBeNull();

    store.live.set("gha_b", info("k2", 1_000));
    await cache.verifyAccessToken("gha_b");
    store.live.delete("gha_b");
    cache.dropConnection("k2");
    expect(await cache.verifyAccessToken("gha_b")).toBeNull();

    store.live.set("gha_c", info("k3", 1_000));
    await cache.verifyAccessToken("gha_c");
    clock.advance(1_001);
    store.live.delete("gha_c");
    expect(await cache.verifyAccessToken("gha_c")).toBeNull();
  });

  it("a lookup that raced a revocation is answered but not cached", async () => {
    const store = fakeStore();
    store.live.set("gha_a", info("k1"));
    const cache = new AccessTokenCache((t) => store.verify(t), () => true, clock);
    const release = store.hold();
    const inFlight = cache.verifyAccessToken("gha_a"); // read the row before the revocation committed
    store.live.delete("gha_a");
    cache.dropConnection("k1");
    release();
    expect(await inFlight).toMatchObject({ connectionId: "k1" });
    expect(await cache.verifyAccessToken("gha_a")).toBeNull();
    expect(store.lookups).toBe(2);
  });
});
