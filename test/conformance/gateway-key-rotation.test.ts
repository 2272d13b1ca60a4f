/**
 * Rotation of the identity-token signing keys (issue 12; README "Identity
 * tokens for HTTP upstreams"), over HTTP: the upstream fixture verifies with
 * jose's createRemoteJWKSet, made to refetch the JWKS only when the test says
 * its cached copy has expired — a verifier that honours the JWKS max-age. The
 * rotation (what `gatehouse keys rotate` runs, here through the same admin
 * operations) reaches the node on the bus; the new key is published at once,
 * signs only after the publish delay, and the old one leaves the JWKS after
 * its tokens have expired. The upstream never meets an unknown kid.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { JWK } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { localAdmin } from "../../src/admin.js";
import { ManualClock } from "../../src/clock.js";
import { PUBLISH_DELAY_MS, RETIRE_DELAY_MS } from "../../src/gateway/signing-key-set.js";
import { drivers } from "../helpers/databases.js";
import { addSignedInUser, grant, type Grant } from "../helpers/mcp-fixtures.js";
import { modernRpc } from "../helpers/mcp.js";
import { freePort, startTestServer, type TestServer } from "../helpers/server.js";
import { startJwtUpstream, type JwtUpstream } from "../fixtures/upstream-jwt.js";

async function kids(base: string): Promise<string[]> {
  const response = await fetch(`${base}/.well-known/jwks.json`);
  expect(response.status).toBe(200);
  return ((await response.json()) as { keys: JWK[] }).keys.map((key) => key.kid!);
}

for (const driver of drivers()) {
  describe(`gateway identity tokens: signing key rotation (${driver})`, () => {
    const clock = new ManualClock(Date.now());
    let upstream: JwtUpstream;
    let server: TestServer;
    let base: string;
    let access: Grant;

    beforeAll(async () => {
      const port = await freePort();
      base = `http://127.0.0.1:${port}`;
      // Never refetched on its own, not even for an unknown kid: only when the test says the cache expired.
      upstream = await startJwtUpstream(base, { cacheMaxAge: Infinity, cooldownDuration: Infinity });
      const file = path.join(mkdtempSync(path.join(tmpdir(), "gatehouse-rotation-")), "gatehouse.config.json");
      writeFileSync(file, JSON.stringify({ upstreams: [{ name: "remote", url: upstream.url, identityToken: { ttlSeconds: 60 } }] }));
      server = await startTestServer(driver, { clock, config: { port, publicUrl: base, configFile: file } });
      const alice = await addSignedInUser(server, "alice@example.com");
      access = await grant(base, alice.jar, undefined, "mcp");
    }, 60_000);
    afterAll(async () => {
      await server?.close();
      await upstream?.close();
    });

    const callKid = async () => {
      const exchange = await modernRpc(base, access.access, "tools/call", { name: "remote_claims", arguments: {} });
      expect(exchange.status, exchange.text).toBe(200);
      const result = exchange.message?.result as { content: { text: string }[]; isError?: boolean };
      expect(result.isError, result.content[0]!.text).not.toBe(true);
      return (JSON.parse(result.content[0]!.text) as { protectedHeader: { kid: string } }).protectedHeader.kid;
    };

    it("keeps the upstream accepting tokens across the switch, and drops the old key once its tokens have expired", async () => {
      const [old] = await kids(base);
      expect(await callKid()).toBe(old);

      const { deps, services } = server.running;
      const admin = localAdmin({ database: deps.database, kv: deps.kv, publicUrl: base, revocation: services.revocation, bus: deps.bus, clock });
      const rotated = await admin.rotateSigningKeys();
      const fresh = rotated.find((key) => key.state === "next")!.kid;
      // The node hears of it on the bus (delivered asynchronously).
      for (let i = 0; i < 50 && (await kids(base)).length < 2; i++) await new Promise((resolve) => setTimeout(resolve, 20));
      expect(await kids(base)).toEqual([old, fresh]);
      // Published, not yet signing: the upstream, still on its cached JWKS, keeps accepting.
      clock.advance(PUBLISH_DELAY_MS - 1000);
      expect(await callKid()).toBe(old);

      // Its cache expires within max-age; by the switch it holds both keys.
      await upstream.reloadJwks();
      clock.advance(1000);
      expect(await callKid()).toBe(fresh);
      expect(await kids(base)).toEqual([old, fresh]);

      clock.advance(RETIRE_DELAY_MS);
      expect(await kids(base)).toEqual([fresh]);
      expect((await admin.listSigningKeys()).map((key) => [key.kid, key.state])).toEqual([[old, "retired"], [fresh, "current"]]);
    });
  });
}
