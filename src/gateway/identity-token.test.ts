import { createLocalJWKSet, jwtVerify } from "jose";
import { describe, expect, it } from "vitest";
import { ManualClock } from "../clock.js";
import { MemoryKvStore } from "../storage/kv/memory.js";
import { parseGatewayConfig, type HttpUpstreamConfig } from "./config.js";
import { identityTokenSigner } from "./identity-token.js";
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
});
