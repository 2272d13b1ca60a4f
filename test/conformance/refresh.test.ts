/**
 * Refresh tokens from the outside (OAuth 2.1 §4.3, RFC 9700 §4.14.2):
 * SPEC-CHECKLIST RT-1..RT-9, THREATS 16-22, and the rotation rules of
 * PRODUCT §6 — a 30 s grace window in which concurrent refreshes get the same
 * pair, the previous token redeemable until its successor is used, any older
 * token revoking the whole connection, never two live successors.
 *
 * Where a connection is revoked on purpose, a second user ("keeper") stays
 * connected to the same client, so each test also shows that another user's
 * grant survives.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ManualClock } from "../../src/clock.js";
import { drivers } from "../helpers/databases.js";
import {
  authorizeForCode,
  basicAuth,
  connect,
  expectOAuthError,
  expectRefreshRefused,
  mcpBearerStatus,
  mcpBearerStatusOnNode,
  mcpStatusAfterRevocation,
  mcpStatusAfterRevocationOnNode,
  postForm,
  refreshGrant,
  registerClient,
  signIn,
  type ClientRegistration,
  type CookieJar,
  type RawResponse,
} from "../helpers/oauth.js";
import { startTestServer, type TestServer } from "../helpers/server.js";

const GRACE_MS = 30_000;
const DAY_MS = 24 * 60 * 60 * 1000;

interface Pair {
  access_token: string;
  refresh_token: string;
  scope: string;
}

for (const driver of drivers()) {
  describe(`refresh tokens (${driver})`, () => {
    const clock = new ManualClock(Date.now());
    let server: TestServer;
    let base: string;
    const jars: Record<"alice" | "bob" | "keeper", CookieJar | null> = { alice: null, bob: null, keeper: null };
    const passwords = { alice: "alice's long password", bob: "bob's long password", keeper: "keeper's long password" };
    let clients = 0;

    const jar = (who: keyof typeof jars) => jars[who]!;
    const signInAll = async () => {
      for (const who of Object.keys(jars) as (keyof typeof jars)[]) jars[who] = await signIn(base, `${who}@example.com`, passwords[who]);
    };

    beforeAll(async () => {
      server = await startTestServer(driver, { clock, appDeps: { toolScopes: ["notes:read", "notes:write"] } });
      base = server.base;
      for (const who of Object.keys(jars) as (keyof typeof jars)[]) await server.addUser(`${who}@example.com`, passwords[who]);
      await signInAll();
    });
    afterAll(async () => server?.close());

    const newClient = (metadata: Record<string, unknown> = {}) => registerClient(base, { client_name: `refresh-test-${++clients}`, ...metadata });
    const refresh = (client: ClientRegistration, refreshToken: string, extra: Record<string, string> = {}) =>
      refreshGrant(base, client.client_id, refreshToken, extra);
    const pairOf = (response: RawResponse): Pair => {
      expect(response.status, response.text).toBe(200);
      return response.json as unknown as Pair;
    };
    /** Alice connected to a fresh client that the keeper is connected to as well. */
    const kept = async (): Promise<{ client: ClientRegistration; tokens: Pair }> => {
      const client = await newClient();
      await connect(base, jar("keeper"), client);
      const { tokens } = await connect(base, jar("alice"), client);
      return { client, tokens: tokens as unknown as Pair };
    };
    /** Alice connected with a requested scope. */
    const connectWithScope = async (client: ClientRegistration, scope: string): Promise<Pair> => {
      const issued = await authorizeForCode(base, jar("alice"), client, { scope });
      const response = await postForm(`${base}/oauth/token`, {
        grant_type: "authorization_code",
        code: issued.code,
        code_verifier: issued.verifier,
        client_id: client.client_id,
        redirect_uri: issued.redirectUri,
      });
      return pairOf(response);
    };

    describe("rotation (RT-2, PRODUCT §6)", () => {
      it("answers every refresh with a new refresh token and a new working access token, never cached", async () => {
        const { client, tokens } = await kept();
        const response = await refresh(client, tokens.refresh_token);
        const next = pairOf(response);
        expect(response.headers.get("cache-control")).toMatch(/\bno-store\b/i);
        expect(response.headers.get("pragma")).toMatch(/\bno-cache\b/i);
        expect(response.json!.token_type).toMatch(/^Bearer$/i);
        expect(response.json!.expires_in).toBeGreaterThan(0);
        expect(response.json!.expires_in).toBeLessThanOrEqual(3600);
        expect(next.scope).toBe("mcp");
        expect(next.refresh_token).not.toBe(tokens.refresh_token);
        expect(next.access_token).not.toBe(tokens.access_token);
        expect(await mcpBearerStatus(base, next.access_token)).not.toBe(401);
      });

      it("keeps working over 50 sequential rotations", async () => {
        const { client, tokens } = await kept();
        const seen = new Set([tokens.refresh_token]);
        let current = tokens;
        for (let i = 0; i < 50; i++) {
          current = pairOf(await refresh(client, current.refresh_token));
          expect(seen.has(current.refresh_token), `rotation ${i} reissued a token`).toBe(false);
          seen.add(current.refresh_token);
        }
        expect(await mcpBearerStatus(base, current.access_token)).not.toBe(401);
      });

      it("answers a repeat of the same token inside the 30 s grace window with the very same pair", async () => {
        const { client, tokens } = await kept();
        const first = pairOf(await refresh(client, tokens.refresh_token));
        clock.advance(GRACE_MS / 3);
        const repeat = pairOf(await refresh(client, tokens.refresh_token));
        expect(repeat.access_token).toBe(first.access_token);
        expect(repeat.refresh_token).toBe(first.refresh_token);
        expect(await mcpBearerStatus(base, first.access_token)).not.toBe(401);
        pairOf(await refresh(client, first.refresh_token));
      });

      it("keeps the previous token redeemable after the grace window until its successor is used (lost response)", async () => {
        const { client, tokens } = await kept();
        const lost = pairOf(await refresh(client, tokens.refresh_token));
        clock.advance(GRACE_MS + 1_000);
        const recovered = pairOf(await refresh(client, tokens.refresh_token));
        expect(recovered.refresh_token).not.toBe(lost.refresh_token);
        expect(recovered.refresh_token).not.toBe(tokens.refresh_token);
        expect(recovered.access_token).not.toBe(lost.access_token);
        expect(await mcpBearerStatus(base, recovered.access_token)).not.toBe(401);
        const after = pairOf(await refresh(client, recovered.refresh_token));
        expect(await mcpBearerStatus(base, after.access_token)).not.toBe(401);
        // Never two live successors of one token: the pair whose response was "lost" is no longer good.
        expect((await refresh(client, lost.refresh_token)).status).not.toBe(200);
      });

      it("gives 10 concurrent refreshes with one token the same pair, and leaves a single chain alive", async () => {
        const { client, tokens } = await kept();
        const results = await Promise.all(Array.from({ length: 10 }, () => refresh(client, tokens.refresh_token)));
        const pairs = results.map(pairOf);
        expect(new Set(pairs.map((p) => p.access_token)).size).toBe(1);
        expect(new Set(pairs.map((p) => p.refresh_token)).size).toBe(1);
        const successor = pairs[0]!;
        expect(await mcpBearerStatus(base, successor.access_token)).not.toBe(401);
        // Still inside the window, a late repeat is served the same pair, not a second successor.
        const late = pairOf(await refresh(client, tokens.refresh_token));
        expect(late.refresh_token).toBe(successor.refresh_token);

        const next = pairOf(await refresh(client, successor.refresh_token));
        expect(await mcpBearerStatus(base, next.access_token)).not.toBe(401);
        // The original token is now two generations old: presenting it is reuse, and ends the connection.
        expectOAuthError(await refresh(client, tokens.refresh_token), 400, "invalid_grant");
        expectOAuthError(await refresh(client, next.refresh_token), 400, "invalid_grant");
        expect(await mcpStatusAfterRevocation(base, next.access_token)).toBe(401);
      });
    });

    describe("reuse detection (RT-3, RFC 9700 §4.14.2; THREATS 17)", () => {
      it("revokes the whole connection when an older token is presented again", async () => {
        const { client, tokens } = await kept();
        const second = pairOf(await refresh(client, tokens.refresh_token));
        const third = pairOf(await refresh(client, second.refresh_token));
        expectOAuthError(await refresh(client, tokens.refresh_token), 400, "invalid_grant");
        expectOAuthError(await refresh(client, third.refresh_token), 400, "invalid_grant");
        expectOAuthError(await refresh(client, second.refresh_token), 400, "invalid_grant");
        for (const accessToken of [tokens.access_token, second.access_token, third.access_token]) {
          expect(await mcpStatusAfterRevocation(base, accessToken)).toBe(401);
        }
      });

      it("revokes the whole connection when an older token comes back after the grace window", async () => {
        const { client, tokens } = await kept();
        const second = pairOf(await refresh(client, tokens.refresh_token));
        const third = pairOf(await refresh(client, second.refresh_token));
        clock.advance(GRACE_MS + 1_000);
        expectOAuthError(await refresh(client, tokens.refresh_token), 400, "invalid_grant");
        expectOAuthError(await refresh(client, third.refresh_token), 400, "invalid_grant");
        expect(await mcpStatusAfterRevocation(base, third.access_token)).toBe(401);
      });

      it("leaves other users' connections to the same client alone when one is revoked for reuse", async () => {
        const client = await newClient();
        const bob = (await connect(base, jar("bob"), client)).tokens;
        const { tokens } = await connect(base, jar("alice"), client);
        const second = pairOf(await refresh(client, tokens.refresh_token));
        pairOf(await refresh(client, second.refresh_token));
        expectOAuthError(await refresh(client, tokens.refresh_token), 400, "invalid_grant");
        expect(await mcpBearerStatus(base, bob.access_token)).not.toBe(401);
        pairOf(await refresh(client, bob.refresh_token));
      });
    });

    describe("binding (RT-1, RT-4, RT-5, RT-7; THREATS 18, 20, 21)", () => {
      it("refuses a refresh token presented by another client with invalid_grant, and the owner keeps it", async () => {
        const { client, tokens } = await kept();
        const other = await newClient();
        expectOAuthError(await refresh(other, tokens.refresh_token), 400, "invalid_grant");
        const confidential = await newClient({ token_endpoint_auth_method: "client_secret_basic" });
        const viaBasic = await postForm(
          `${base}/oauth/token`,
          { grant_type: "refresh_token", refresh_token: tokens.refresh_token },
          { authorization: basicAuth(confidential.client_id, confidential.client_secret!) },
        );
        expectOAuthError(viaBasic, 400, "invalid_grant");
        expect(await mcpBearerStatus(base, tokens.access_token)).not.toBe(401);
        pairOf(await refresh(client, tokens.refresh_token));
      });

      it("refuses a scope beyond the grant with invalid_scope and leaves the grant usable", async () => {
        const { client, tokens } = await kept();
        expectOAuthError(await refresh(client, tokens.refresh_token, { scope: "mcp notes:write" }), 400, "invalid_scope");
        expectOAuthError(await refresh(client, tokens.refresh_token, { scope: "nonexistent" }), 400, "invalid_scope");
        const next = pairOf(await refresh(client, tokens.refresh_token));
        expect(next.scope).toBe("mcp");
      });

      it("allows narrowing, and an omitted scope means the scope originally granted (OAuth 2.1 §4.3.1)", async () => {
        const client = await newClient();
        await connect(base, jar("keeper"), client);
        const granted = await connectWithScope(client, "notes:read notes:write");
        expect(granted.scope.split(" ").sort()).toEqual(["notes:read", "notes:write"]);
        const narrowed = pairOf(await refresh(client, granted.refresh_token, { scope: "notes:read" }));
        expect(narrowed.scope).toBe("notes:read");
        expectOAuthError(await refresh(client, narrowed.refresh_token, { scope: "notes:read mcp" }), 400, "invalid_scope");
        const restored = pairOf(await refresh(client, narrowed.refresh_token));
        expect(restored.scope.split(" ").sort()).toEqual(["notes:read", "notes:write"]);
      });

      it("refuses another resource with invalid_target and leaves the grant unchanged", async () => {
        const { client, tokens } = await kept();
        expectOAuthError(await refresh(client, tokens.refresh_token, { resource: "https://other.example/mcp" }), 400, "invalid_target");
        const next = pairOf(await refresh(client, tokens.refresh_token, { resource: `${base}/mcp` }));
        expect(await mcpBearerStatus(base, next.access_token)).not.toBe(401);
      });

      it("refuses a tampered refresh token with invalid_grant, without harming the real one", async () => {
        const { client, tokens } = await kept();
        const token = tokens.refresh_token;
        const middle = Math.floor(token.length / 2);
        const flipped = token.slice(0, middle) + (token[middle] === "A" ? "B" : "A") + token.slice(middle + 1);
        for (const tampered of [flipped, `${token}A`, token.slice(0, -1), token.toUpperCase()]) {
          if (tampered === token) continue;
          expectOAuthError(await refresh(client, tampered), 400, "invalid_grant");
        }
        pairOf(await refresh(client, token));
      });

      it("refuses an access token presented as a refresh token", async () => {
        const { client, tokens } = await kept();
        expectOAuthError(await refresh(client, tokens.access_token), 400, "invalid_grant");
        pairOf(await refresh(client, tokens.refresh_token));
      });

      it("makes a confidential client authenticate to refresh (OAuth 2.1 §4.3)", async () => {
        const client = await newClient({ token_endpoint_auth_method: "client_secret_basic" });
        const auth = { authorization: basicAuth(client.client_id, client.client_secret!) };
        const issued = await authorizeForCode(base, jar("alice"), client);
        const tokens = pairOf(
          await postForm(`${base}/oauth/token`, { grant_type: "authorization_code", code: issued.code, code_verifier: issued.verifier }, auth),
        );
        expectOAuthError(await refresh(client, tokens.refresh_token), 401, "invalid_client");
        const next = pairOf(await postForm(`${base}/oauth/token`, { grant_type: "refresh_token", refresh_token: tokens.refresh_token }, auth));
        expect(await mcpBearerStatus(base, next.access_token)).not.toBe(401);
      });

      it("refuses a grace-window repeat from another client or for a broader scope, without revoking (THREATS 18)", async () => {
        const client = await newClient();
        await connect(base, jar("keeper"), client);
        const granted = await connectWithScope(client, "notes:read notes:write");
        const narrowed = pairOf(await refresh(client, granted.refresh_token, { scope: "notes:read" }));
        // The same token, at once, from another client: not theirs.
        expectOAuthError(await refresh(await newClient(), granted.refresh_token, { scope: "notes:read" }), 400, "invalid_grant");
        // The same token, at once, asking for more than the pair being replayed: neither that pair nor a second successor.
        expectOAuthError(await refresh(client, granted.refresh_token), 400, "invalid_grant");
        expect(await mcpBearerStatus(base, narrowed.access_token)).not.toBe(401);
        pairOf(await refresh(client, narrowed.refresh_token));
      });

      it("requires the refresh_token parameter (invalid_request)", async () => {
        const client = await newClient();
        expectOAuthError(await postForm(`${base}/oauth/token`, { grant_type: "refresh_token", client_id: client.client_id }), 400, "invalid_request");
      });

      it("refuses the refresh token of a revoked connection (RT-6)", async () => {
        const { client, tokens } = await kept();
        const revoked = await postForm(`${base}/oauth/revoke`, { token: tokens.refresh_token, client_id: client.client_id });
        expect(revoked.status).toBe(200);
        expectOAuthError(await refresh(client, tokens.refresh_token), 400, "invalid_grant");
      });
    });

    describe("revocation racing a refresh (THREATS 19; PRODUCT §6)", () => {
      it("leaves nothing usable behind, over 10 rounds", async () => {
        for (let round = 0; round < 10; round++) {
          const client = await newClient();
          // Half the rounds keep the registration alive through another user, so the refresh reaches the grant, not just client auth.
          if (round % 2 === 0) await connect(base, jar("keeper"), client);
          const { tokens } = await connect(base, jar("alice"), client);
          const revoke = () => postForm(`${base}/oauth/revoke`, { token: tokens.refresh_token, client_id: client.client_id });
          const race = () => refresh(client, tokens.refresh_token);
          // Both requests are in flight together; which one is sent first alternates.
          const [revoked, refreshed] =
            round % 4 < 2 ? await Promise.all([revoke(), race()]) : await Promise.all([race(), revoke()]).then(([a, b]) => [b, a] as const);
          expect(revoked.status, `round ${round}: ${revoked.text}`).toBe(200);
          expectRefreshRefused(await refresh(client, tokens.refresh_token));
          expect(await mcpStatusAfterRevocation(base, tokens.access_token), `round ${round}: first access token`).toBe(401);
          if (refreshed.status === 200) {
            const raced = refreshed.json as unknown as Pair;
            expectRefreshRefused(await refresh(client, raced.refresh_token));
            expect(await mcpStatusAfterRevocation(base, raced.access_token), `round ${round}: raced access token`).toBe(401);
          } else {
            expectRefreshRefused(refreshed);
          }
        }
      }, 60_000);
    });

    describe("connections per user and client (PRODUCT §6)", () => {
      it("keeps two users' connections to the same client independent", async () => {
        const client = await newClient();
        const alice = (await connect(base, jar("alice"), client)).tokens as unknown as Pair;
        const bob = (await connect(base, jar("bob"), client)).tokens as unknown as Pair;
        expect(await mcpBearerStatus(base, alice.access_token)).not.toBe(401);
        expect(await mcpBearerStatus(base, bob.access_token)).not.toBe(401);
        const aliceNext = pairOf(await refresh(client, alice.refresh_token));
        expect(await mcpBearerStatus(base, bob.access_token)).not.toBe(401);
        const bobNext = pairOf(await refresh(client, bob.refresh_token));
        expect(await mcpBearerStatus(base, aliceNext.access_token)).not.toBe(401);
        expect(await mcpBearerStatus(base, bobNext.access_token)).not.toBe(401);
        pairOf(await refresh(client, aliceNext.refresh_token));
      });

      it("replaces a user's previous connection to a client on re-authorization, and nobody else's", async () => {
        const client = await newClient();
        const before = (await connect(base, jar("alice"), client)).tokens as unknown as Pair;
        const bob = (await connect(base, jar("bob"), client)).tokens as unknown as Pair;
        const after = (await connect(base, jar("alice"), client)).tokens as unknown as Pair;
        expectOAuthError(await refresh(client, before.refresh_token), 400, "invalid_grant");
        expect(await mcpStatusAfterRevocation(base, before.access_token)).toBe(401);
        expect(await mcpBearerStatus(base, after.access_token)).not.toBe(401);
        expect(await mcpBearerStatus(base, bob.access_token)).not.toBe(401);
        pairOf(await refresh(client, after.refresh_token));
        pairOf(await refresh(client, bob.refresh_token));
      });
    });

    describe("one live connection per user and client, under concurrency (PRODUCT §6)", () => {
      it("leaves exactly one live connection when five authorizations of one client are redeemed at once", async () => {
        const client = await newClient();
        const codes = [];
        for (let i = 0; i < 5; i++) codes.push(await authorizeForCode(base, jar("alice"), client));
        const results = await Promise.all(
          codes.map((issued) =>
            postForm(`${base}/oauth/token`, {
              grant_type: "authorization_code",
              code: issued.code,
              code_verifier: issued.verifier,
              client_id: client.client_id,
              redirect_uri: issued.redirectUri,
            }),
          ),
        );
        for (const result of results) expect(result.status, result.text).toBeLessThan(500);
        const issuedPairs = results.filter((r) => r.status === 200).map(pairOf);
        expect(issuedPairs.length).toBeGreaterThan(0);
        const refreshed = await Promise.all(issuedPairs.map((pair) => refresh(client, pair.refresh_token)));
        const live = issuedPairs.filter((_, i) => refreshed[i]!.status === 200);
        expect(live, "live connections afterwards").toHaveLength(1);
        for (const [i, pair] of issuedPairs.entries()) {
          if (live.includes(pair)) continue;
          expectOAuthError(refreshed[i]!, 400, "invalid_grant");
          expect(await mcpStatusAfterRevocation(base, pair.access_token)).toBe(401);
        }
      });
    });

    describe("lifetime (RT-8, RT-9; PRODUCT §4: 90 days; THREATS 22)", () => {
      it("refuses a refresh token unused for longer than 90 days with invalid_grant", async () => {
        const { client, tokens } = await kept();
        clock.advance(89 * DAY_MS);
        const renewed = pairOf(await refresh(client, tokens.refresh_token));
        clock.advance(90 * DAY_MS + 1_000);
        expectOAuthError(await refresh(client, renewed.refresh_token), 400, "invalid_grant");
        // Sessions last hours, not months: sign everyone in again for whatever runs next.
        await signInAll();
      });
    });

    // PGlite is one process; on PostgreSQL a second node shares the database (same public URL, its own pool).
    if (driver === "postgres") {
      describe("two nodes on one database (PRODUCT §6: any nodes)", () => {
        let nodeB: TestServer;
        let urlB: string;
        beforeAll(async () => {
          nodeB = await startTestServer(driver, { clock, testDb: server.testDb, config: { publicUrl: server.base }, appDeps: { toolScopes: ["notes:read", "notes:write"] } });
          urlB = nodeB.running.url;
        });
        afterAll(async () => nodeB?.close());

        const refreshAt = (url: string, client: ClientRegistration, refreshToken: string) =>
          postForm(`${url}/oauth/token`, { grant_type: "refresh_token", refresh_token: refreshToken, client_id: client.client_id });

        it("gives 10 concurrent refreshes spread over both nodes the same pair", async () => {
          const { client, tokens } = await kept();
          const results = await Promise.all(Array.from({ length: 10 }, (_, i) => refreshAt(i % 2 ? urlB : base, client, tokens.refresh_token)));
          const pairs = results.map(pairOf);
          expect(new Set(pairs.map((p) => p.refresh_token)).size).toBe(1);
          expect(new Set(pairs.map((p) => p.access_token)).size).toBe(1);
          expect(await mcpBearerStatusOnNode(urlB, base, pairs[0]!.access_token)).not.toBe(401);
          pairOf(await refreshAt(urlB, client, pairs[0]!.refresh_token));
        });

        it("revokes the connection on both nodes when an older token comes back to either", async () => {
          const { client, tokens } = await kept();
          const second = pairOf(await refreshAt(base, client, tokens.refresh_token));
          const third = pairOf(await refreshAt(urlB, client, second.refresh_token));
          expectOAuthError(await refreshAt(base, client, tokens.refresh_token), 400, "invalid_grant");
          expectOAuthError(await refreshAt(urlB, client, third.refresh_token), 400, "invalid_grant");
          expect(await mcpStatusAfterRevocationOnNode(urlB, base, third.access_token)).toBe(401);
          expect(await mcpStatusAfterRevocation(base, third.access_token)).toBe(401);
        });

        it("leaves nothing usable when a revocation on one node races a refresh on the other", async () => {
          for (let round = 0; round < 6; round++) {
            const client = await newClient();
            await connect(base, jar("keeper"), client);
            const { tokens } = await connect(base, jar("alice"), client);
            const [revokeAt, refreshOn] = round % 2 ? [urlB, base] : [base, urlB];
            const [revoked, refreshed] = await Promise.all([
              postForm(`${revokeAt}/oauth/revoke`, { token: tokens.refresh_token, client_id: client.client_id }),
              refreshAt(refreshOn, client, tokens.refresh_token),
            ]);
            expect(revoked.status, `round ${round}: ${revoked.text}`).toBe(200);
            for (const url of [base, urlB]) {
              expectOAuthError(await refreshAt(url, client, tokens.refresh_token), 400, "invalid_grant");
              expect(await mcpStatusAfterRevocationOnNode(url, base, tokens.access_token), `round ${round}`).toBe(401);
              if (refreshed.status === 200) {
                const raced = refreshed.json as unknown as Pair;
                expectOAuthError(await refreshAt(url, client, raced.refresh_token), 400, "invalid_grant");
                expect(await mcpStatusAfterRevocationOnNode(url, base, raced.access_token), `round ${round}: raced token`).toBe(401);
              }
            }
          }
        }, 60_000);
      });
    }
  });
}
