/**
 * Gateway identity tokens (issue 12, part 3): an HTTP upstream with
 * `identityToken` receives, on each request, a short-lived JWT signed by
 * Gatehouse, and verifies it against Gatehouse's JWKS with
 * `jose.createRemoteJWKSet` (test/fixtures/upstream-jwt.ts) — signature,
 * issuer, audience, expiry — seeing who calls without ever seeing the
 * client's bearer token. The key pair lives in the database: nodes on one
 * PostgreSQL starting at once end up with one key and serve the same `kid`.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { decodeJwt, type JWK } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ManualClock } from "../../src/clock.js";
import { loadSigningKeys } from "../../src/gateway/signing-keys.js";
import { PostgresKvStore } from "../../src/storage/kv/postgres.js";
import { createTestDatabase, drivers } from "../helpers/databases.js";
import { addSignedInUser, grant, type Grant, type TestUser } from "../helpers/mcp-fixtures.js";
import { modernRpc, type RpcExchange } from "../helpers/mcp.js";
import { postForm } from "../helpers/oauth.js";
import { freePort, startTestServer, type TestServer } from "../helpers/server.js";
import { startJwtUpstream, type JwtUpstream } from "../fixtures/upstream-jwt.js";

function writeConfig(upstream: JwtUpstream): string {
  const file = path.join(mkdtempSync(path.join(tmpdir(), "gatehouse-gateway-jwt-")), "gatehouse.config.json");
  const config = { upstreams: [{ name: "remote", url: upstream.url, identityToken: { ttlSeconds: 90 } }] };
  writeFileSync(file, JSON.stringify(config));
  return file;
}

function result(exchange: RpcExchange): { text: string; isError: boolean } {
  expect(exchange.status, exchange.text).toBe(200);
  const r = exchange.message?.result as { content?: { text?: string }[]; isError?: boolean } | undefined;
  expect(r, exchange.text).toBeDefined();
  return { text: r!.content?.[0]?.text ?? "", isError: r!.isError === true };
}

const PRIVATE_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

async function jwksOf(base: string): Promise<{ response: Response; keys: JWK[] }> {
  const response = await fetch(`${base}/.well-known/jwks.json`);
  const { keys } = (await response.json()) as { keys: JWK[] };
  return { response, keys };
}

for (const driver of drivers()) {
  describe(`gateway identity tokens: signed JWTs for HTTP upstreams (${driver})`, () => {
    const clock = new ManualClock(Date.now());
    let upstream: JwtUpstream;
    let server: TestServer;
    let base: string;
    let alice: TestUser;
    let access: Grant;

    beforeAll(async () => {
      const port = await freePort();
      base = `http://127.0.0.1:${port}`;
      upstream = await startJwtUpstream(base);
      server = await startTestServer(driver, { clock, config: { port, publicUrl: base, configFile: writeConfig(upstream) } });
      alice = await addSignedInUser(server, "alice@example.com");
      access = await grant(base, alice.jar, undefined, "mcp");
    }, 60_000);
    afterAll(async () => {
      await server?.close();
      await upstream?.close();
    });

    it("sends a JWT the upstream verifies against the JWKS, naming the caller, and never the client's token", async () => {
      const before = upstream.received.length;
      const { text, isError } = result(await modernRpc(base, access.access, "tools/call", { name: "remote_claims", arguments: {} }));
      expect(isError, text).toBe(false);
      const { payload, protectedHeader } = JSON.parse(text) as { payload: Record<string, unknown>; protectedHeader: Record<string, unknown> };
      const now = Math.floor(clock.now() / 1000);
      expect(payload).toMatchObject({
        iss: base, aud: upstream.url, sub: alice.id, email: "alice@example.com", scope: "mcp", client_id: access.client.client_id, iat: now, exp: now + 90,
      });
      expect(payload.jti).toEqual(expect.any(String));
      const { keys } = await jwksOf(base);
      expect(protectedHeader).toMatchObject({ alg: "ES256", kid: keys[0]!.kid });

      const sent = upstream.received.slice(before);
      expect(sent.length).toBeGreaterThan(0);
      for (const headers of sent) {
        for (const [, value] of headers) expect(value).not.toContain(access.access);
      }
    });

    it("reuses a caller's token while more than half its lifetime remains, then signs a new one (new jti); Gatehouse's own requests name Gatehouse", async () => {
      const jti = async () => {
        const { text } = result(await modernRpc(base, access.access, "tools/call", { name: "remote_claims", arguments: {} }));
        return (JSON.parse(text) as { payload: { jti: string } }).payload.jti;
      };
      const first = await jti();
      expect(await jti()).toBe(first);
      // ttlSeconds 90: past 45 s the token is not handed out again.
      clock.advance(46_000);
      try {
        expect(await jti()).not.toBe(first);
      } finally {
        clock.advance(-46_000);
      }
      // The handshake at start-up ran before any user called.
      const handshake = decodeJwt(upstream.received[0]!.get("authorization")!.replace(/^Bearer /, ""));
      expect(handshake).toMatchObject({ iss: base, sub: base, aud: upstream.url });
      expect(handshake.email).toBeUndefined();
    });

    it("sends a revoked grant's calls nowhere: its kept token never reaches the upstream again", async () => {
      const bob = await addSignedInUser(server, "bob@example.com");
      const bobs = await grant(base, bob.jar, undefined, "mcp");
      expect(result(await modernRpc(base, bobs.access, "tools/call", { name: "remote_claims", arguments: {} })).isError).toBe(false);
      const revoked = await postForm(`${base}/oauth/revoke`, { token: bobs.refresh, client_id: bobs.client.client_id });
      expect(revoked.status).toBe(200);
      const before = upstream.received.length;
      const refused = await modernRpc(base, bobs.access, "tools/call", { name: "remote_claims", arguments: {} });
      expect(refused.status).toBe(401);
      expect(upstream.received.length).toBe(before);
    });

    it("signs with the injected clock: a token from a clock 10 minutes behind has expired for the upstream", async () => {
      clock.advance(-10 * 60_000);
      try {
        const { text, isError } = result(await modernRpc(base, access.access, "tools/call", { name: "remote_claims", arguments: {} }));
        expect(isError).toBe(true);
        expect(text).toMatch(/"exp" claim timestamp check failed/);
      } finally {
        clock.advance(10 * 60_000);
      }
    });

    it("publishes only public keys, cacheable", async () => {
      const { response, keys } = await jwksOf(base);
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toBe("application/jwk-set+json");
      expect(response.headers.get("cache-control")).toMatch(/max-age=\d+/);
      expect(keys).toHaveLength(1);
      expect(keys[0]).toMatchObject({ kty: "EC", crv: "P-256", alg: "ES256", use: "sig", kid: expect.any(String) });
      for (const member of PRIVATE_MEMBERS) expect(keys[0]).not.toHaveProperty(member);
    });

    it("keeps one key per algorithm when loaders race on one database", async () => {
      const kv = new PostgresKvStore(server.testDb.database.db, clock);
      const [a, b] = await Promise.all([loadSigningKeys(kv, ["RS256"]), loadSigningKeys(kv, ["RS256"])]);
      expect(a.get("RS256").kid).toBe(b.get("RS256").kid);
      for (const member of PRIVATE_MEMBERS) expect(a.jwks().keys[0]).not.toHaveProperty(member);
      // The ES256 key the server made is the one stored.
      const { keys } = await jwksOf(base);
      expect((await loadSigningKeys(kv, ["ES256"])).get("ES256").kid).toBe(keys[0]!.kid);
    });

    it.runIf(driver === "postgres")("serves the same kid from two nodes that start at once on one PostgreSQL", async () => {
      const testDb = await createTestDatabase("postgres");
      const config = { configFile: writeConfig(upstream) };
      const nodes = await Promise.all([startTestServer(driver, { testDb, config }), startTestServer(driver, { testDb, config })]);
      try {
        const [one, two] = await Promise.all(nodes.map(async (node) => (await jwksOf(node.base)).keys));
        expect(one).toHaveLength(1);
        expect(one).toEqual(two);
      } finally {
        for (const node of nodes) await node.close();
        await testDb.cleanup();
      }
    });
  });
}
