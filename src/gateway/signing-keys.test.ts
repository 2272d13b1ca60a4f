import { createLocalJWKSet, jwtVerify } from "jose";
import { describe, expect, it } from "vitest";
import { ManualClock } from "../clock.js";
import { MemoryKvStore } from "../storage/kv/memory.js";
import { parseGatewayConfig, type HttpUpstreamConfig } from "./config.js";
import { identityTokenSigner } from "./identity-token.js";
import { PUBLISH_DELAY_MS, RETIRE_DELAY_MS } from "./signing-key-set.js";
import { listSigningKeys, loadSigningKeys, rotateSigningKeys, signingKeyName } from "./signing-keys.js";

const kids = (keys: { jwks(): { keys: { kid?: string }[] } }) => keys.jwks().keys.map((key) => key.kid);

describe("signing key rotation", () => {
  it("publishes the new key first, signs with it after the publish delay, and drops the old one after its retirement", async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 1));
    const kv = new MemoryKvStore(clock);
    const keys = await loadSigningKeys(kv, ["ES256"], clock);
    const old = keys.get("ES256").kid;

    const listed = await rotateSigningKeys(kv, clock, "ES256");
    const fresh = listed.find((key) => key.state === "next")!.kid;
    expect(listed.map((key) => [key.kid, key.state])).toEqual([[old, "current"], [fresh, "next"]]);
    await keys.reload();
    expect(kids(keys)).toEqual([old, fresh]);
    expect(keys.get("ES256").kid).toBe(old);

    clock.advance(PUBLISH_DELAY_MS - 1);
    expect(keys.get("ES256").kid).toBe(old);
    clock.advance(1);
    expect(keys.get("ES256").kid).toBe(fresh);
    expect(kids(keys)).toEqual([old, fresh]);
    expect((await listSigningKeys(kv, clock)).map((key) => key.state)).toEqual(["previous", "current"]);

    clock.advance(RETIRE_DELAY_MS - 1);
    expect(kids(keys)).toEqual([old, fresh]);
    clock.advance(1);
    expect(kids(keys)).toEqual([fresh]);
    expect((await listSigningKeys(kv, clock)).map((key) => key.state)).toEqual(["retired", "current"]);
    // The next rotation forgets the retired key.
    await rotateSigningKeys(kv, clock, "ES256");
    expect((await listSigningKeys(kv, clock)).map((key) => key.state)).toEqual(["current", "next"]);
  });

  it("lets two nodes loading from one store agree on the JWKS and the signing key at every step", async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 1));
    const kv = new MemoryKvStore(clock);
    const [one, two] = await Promise.all([loadSigningKeys(kv, ["ES256"], clock), loadSigningKeys(kv, ["ES256"], clock)]);
    await rotateSigningKeys(kv, clock);
    // One node heard of it at once; the other rereads a minute later, still before the switch.
    await one.reload();
    clock.advance(60_000);
    await two.reload();
    for (const step of [0, PUBLISH_DELAY_MS, RETIRE_DELAY_MS]) {
      clock.advance(step);
      expect(kids(one)).toEqual(kids(two));
      expect(one.get("ES256").kid).toBe(two.get("ES256").kid);
    }
  });

  it("refuses a second rotation while the first one's key does not sign yet", async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 1));
    const kv = new MemoryKvStore(clock);
    await loadSigningKeys(kv, ["RS256"], clock);
    await rotateSigningKeys(kv, clock);
    await expect(rotateSigningKeys(kv, clock)).rejects.toMatchObject({ status: 409, code: "rotation_pending" });
    clock.advance(PUBLISH_DELAY_MS);
    expect((await rotateSigningKeys(kv, clock)).map((key) => key.state)).toEqual(["previous", "current", "next"]);
  });

  it("reads a key stored before rotation existed (a bare JWK) as the current one", async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 1));
    const kv = new MemoryKvStore(clock);
    const first = await loadSigningKeys(kv, ["ES256"], clock);
    const { keys: [entry] } = JSON.parse((await kv.get(signingKeyName("ES256")))!) as { keys: [{ jwk: unknown }] };
    const legacy = new MemoryKvStore(clock);
    await legacy.set(signingKeyName("ES256"), JSON.stringify(entry.jwk));
    const keys = await loadSigningKeys(legacy, ["ES256"], clock);
    expect(keys.get("ES256").kid).toBe(first.get("ES256").kid);
    expect((await rotateSigningKeys(legacy, clock)).map((key) => key.state)).toEqual(["current", "next"]);
  });

  it("agrees on a fresh key once the stored set is deleted (a compromised key), at the next reload", async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 1));
    const kv = new MemoryKvStore(clock);
    const [one, two] = await Promise.all([loadSigningKeys(kv, ["ES256"], clock), loadSigningKeys(kv, ["ES256"], clock)]);
    const old = one.get("ES256").kid;
    await kv.del(signingKeyName("ES256"));
    await Promise.all([one.reload(), two.reload()]);
    expect(one.get("ES256").kid).not.toBe(old);
    expect(kids(one)).toEqual(kids(two));
    expect(kids(one)).toEqual([one.get("ES256").kid]);
  });

  it("stops handing out a cached identity token once the signing key changes", async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 1));
    const kv = new MemoryKvStore(clock);
    const keys = await loadSigningKeys(kv, ["ES256"], clock);
    const signer = identityTokenSigner(keys, "https://gatehouse.example.com", clock);
    const upstream = parseGatewayConfig({ upstreams: [{ name: "crm", url: "https://crm.internal/mcp", identityToken: { ttlSeconds: 3600 } }] })[0] as HttpUpstreamConfig;
    const caller = { userId: "u1", email: "a@example.com", scopes: ["mcp"], clientId: "c1" };
    const kidOf = async () => {
      const [, value] = (await signer.header(upstream, caller))!;
      const { protectedHeader } = await jwtVerify(value.slice(7), createLocalJWKSet(keys.jwks()), { currentDate: new Date(clock.now()) });
      return protectedHeader.kid;
    };
    const old = await kidOf();
    await rotateSigningKeys(kv, clock);
    await keys.reload();
    expect(await kidOf()).toBe(old);
    // Well within half of the 3600 s lifetime of the cached token, yet signed anew by the new key.
    clock.advance(PUBLISH_DELAY_MS);
    const fresh = await kidOf();
    expect(fresh).not.toBe(old);
    expect(fresh).toBe(keys.get("ES256").kid);
  });
});
