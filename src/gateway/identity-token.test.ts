import { createLocalJWKSet, decodeJwt, jwtVerify } from "jose";
import { describe, expect, it } from "vitest";
import { ManualClock } from "../clock.js";
import { MemoryKvStore } from "../storage/kv/memory.js";
import { parseGatewayConfig, type HttpUpstreamConfig } from "./config.js";
import { IDENTITY_TOKEN_CACHE_SIZE, identityTokenSigner } from "./identity-token.js";
import { loadSigningKeys } from "./signing-keys.js";

const ISSUER = "https://gatehouse.example.com";
const caller = { userId: "u1", email: "a@example.com", scopes: ["mcp", "crm"], clientId: "c1" };

function upstream(identityToken: Record<string, unknown>): HttpUpstreamConfig {
  return parseGatewayConfig({ upstreams: [{ name: "crm", url: "https://crm.internal/mcp", identityToken }] })[0] as HttpUpstreamConfig;
}

describe("identity tokens", () => {
  it("signs RS256 under a configured header, scheme and audience, timed by the injected clock", async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 1));
    const keys = await loadSigningKeys(new MemoryKvStore(clock), ["RS256"]);
    const signer = identityTokenSigner(keys, ISSUER, clock);
    const config = upstream({ header: "X-Identity", scheme: "", ttlSeconds: 30, audience: "crm", algorithm: "RS256" });
    const [name, value] = (await signer.header(config, caller))!;
    expect(name).toBe("X-Identity");
    const { payload, protectedHeader } = await jwtVerify(value, createLocalJWKSet(keys.jwks()), {
      issuer: ISSUER, audience: "crm", currentDate: new Date(clock.now()),
    });
    expect(protectedHeader).toMatchObject({ alg: "RS256", kid: keys.get("RS256").kid });
    const iat = clock.now() / 1000;
    expect(payload).toMatchObject({ sub: "u1", email: "a@example.com", scope: "mcp crm", client_id: "c1", iat, exp: iat + 30 });
    expect(keys.jwks().keys[0]).not.toHaveProperty("d");
  });

  it("names Gatehouse itself when no user calls, and sends nothing for an upstream without identityToken", async () => {
    const clock = new ManualClock();
    const keys = await loadSigningKeys(new MemoryKvStore(clock), ["ES256"]);
    const signer = identityTokenSigner(keys, ISSUER, clock);
    const [, value] = (await signer.header(upstream({}), undefined))!;
    expect(value).toMatch(/^Bearer /);
    const { payload } = await jwtVerify(value.slice(7), createLocalJWKSet(keys.jwks()), { issuer: ISSUER, audience: "https://crm.internal/mcp", currentDate: new Date(clock.now()) });
    expect(payload.sub).toBe(ISSUER);
    expect(payload.email).toBeUndefined();
    const plain = parseGatewayConfig({ upstreams: [{ name: "crm", url: "https://crm.internal/mcp" }] })[0] as HttpUpstreamConfig;
    expect(await signer.header(plain, caller)).toBeNull();
  });

  it("reuses a caller's token while more than half its lifetime remains, then signs a new one", async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 1));
    const signer = identityTokenSigner(await loadSigningKeys(new MemoryKvStore(clock), ["ES256"]), ISSUER, clock);
    const config = upstream({ ttlSeconds: 60 });
    const token = async (who: typeof caller | null = caller, to = config) => (await signer.header(to, who ?? undefined))![1];
    const first = await token();
    clock.advance(29_999);
    expect(await token()).toBe(first);
    clock.advance(1);
    const second = await token();
    expect(second).not.toBe(first);
    expect(decodeJwt(second.slice(7)).jti).not.toBe(decodeJwt(first.slice(7)).jti);
    expect(decodeJwt(second.slice(7)).iat).toBe(Date.UTC(2026, 0, 1) / 1000 + 30);
    // Anything the token says about the caller, or another upstream, is another token.
    expect(await token({ ...caller, scopes: ["mcp"] })).not.toBe(second);
    expect(await token({ ...caller, clientId: "c2" })).not.toBe(second);
    expect(await token(null)).not.toBe(second);
    const other = parseGatewayConfig({ upstreams: [{ name: "other", url: "https://crm.internal/mcp", identityToken: { ttlSeconds: 60 } }] })[0] as HttpUpstreamConfig;
    expect(await token(caller, other)).not.toBe(second);
    expect(await token()).toBe(second);
    // A clock set back gets a token of its own time.
    clock.advance(-60_000);
    expect(decodeJwt((await token()).slice(7)).iat).toBe(Date.UTC(2026, 0, 1) / 1000 - 30);
  });

  it("signs concurrent calls of one caller once, and keeps a bounded number of tokens", async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 1));
    const signer = identityTokenSigner(await loadSigningKeys(new MemoryKvStore(clock), ["ES256"]), ISSUER, clock);
    const config = upstream({});
    const [a, b] = await Promise.all([signer.header(config, caller), signer.header(config, caller)]);
    expect(a![1]).toBe(b![1]);
    for (let i = 0; i < IDENTITY_TOKEN_CACHE_SIZE; i++) await signer.header(config, { ...caller, userId: `u-${i}` });
    // The first caller's token was the oldest kept: forgotten, so signed anew.
    expect((await signer.header(config, caller))![1]).not.toBe(a![1]);
    expect((await signer.header(config, { ...caller, userId: `u-${IDENTITY_TOKEN_CACHE_SIZE - 1}` }))![1]).toBe(
      (await signer.header(config, { ...caller, userId: `u-${IDENTITY_TOKEN_CACHE_SIZE - 1}` }))![1],
    );
  });
});
