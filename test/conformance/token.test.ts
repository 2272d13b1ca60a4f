/**
 * The token endpoint from the outside (OAuth 2.1 §3.2, §4.1.3; RFC 6749 §5;
 * RFC 8707): SPEC-CHECKLIST TK-1..TK-15 and THREATS 10-15, 23, 44. Written
 * from the specifications; every error is checked for its exact status, code,
 * JSON shape and `no-store`.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ManualClock } from "../../src/clock.js";
import { loadConfig } from "../../src/config.js";
import { unlimited } from "../../src/storage/rate-limit.js";
import { drivers } from "../helpers/databases.js";
import {
  authorizeForCode,
  basicAuth,
  connect,
  expectOAuthError,
  mcpBearerStatus,
  mcpStatusAfterRevocation,
  postForm,
  readRaw,
  refreshGrant,
  registerClient,
  signIn,
  type ClientRegistration,
  type CookieJar,
  type IssuedCode,
  type RawResponse,
} from "../helpers/oauth.js";
import { startTestServer, type TestServer } from "../helpers/server.js";

const TOOL_SCOPES = ["notes:read", "notes:write"];

for (const driver of drivers()) {
  describe(`token endpoint (${driver})`, () => {
    const clock = new ManualClock(Date.now());
    let server: TestServer;
    let base: string;
    let alice: CookieJar;
    let bob: CookieJar;
    let clients = 0;

    beforeAll(async () => {
      server = await startTestServer(driver, { clock, appDeps: { toolScopes: TOOL_SCOPES } });
      base = server.base;
      await server.addUser("alice@example.com", "correct horse battery");
      alice = await signIn(base, "alice@example.com", "correct horse battery");
      await server.addUser("bob@example.com", "bob's long password");
      bob = await signIn(base, "bob@example.com", "bob's long password");
    });
    afterAll(async () => server?.close());

    const tokenPost = (form: Record<string, string> | [string, string][] | string, headers: Record<string, string> = {}) =>
      postForm(`${base}/oauth/token`, form, headers);
    /** A client of its own for each test: identical public metadata would return the same registration. */
    const newClient = (metadata: Record<string, unknown> = {}) => registerClient(base, { client_name: `token-test-${++clients}`, ...metadata });
    const codeFor = (client: ClientRegistration, extra: Record<string, string> = {}) => authorizeForCode(base, alice, client, extra);
    const redeem = (client: ClientRegistration, issued: IssuedCode, extra: Record<string, string> = {}, headers: Record<string, string> = {}) =>
      tokenPost(
        {
          grant_type: "authorization_code",
          code: issued.code,
          code_verifier: issued.verifier,
          client_id: client.client_id,
          redirect_uri: issued.redirectUri,
          resource: `${base}/mcp`,
          ...extra,
        },
        headers,
      );
    /**
     * A client that another user (bob) is also connected to, so revoking
     * alice's connection leaves another user's grant to check against.
     */
    const sharedClient = async () => {
      const client = await newClient();
      await connect(base, bob, client);
      return client;
    };
    const tokensOf = (response: RawResponse) => response.json as { access_token: string; refresh_token: string };

    describe("request format (TK-1, TK-4, TK-14, SEC-10)", () => {
      it("answers GET with 404 or 405, never a token", async () => {
        const response = await fetch(`${base}/oauth/token?grant_type=authorization_code`);
        await response.body?.cancel();
        expect([404, 405]).toContain(response.status);
      });

      it("refuses bodies that are not application/x-www-form-urlencoded with invalid_request", async () => {
        const client = await newClient();
        const issued = await codeFor(client);
        const params = {
          grant_type: "authorization_code",
          code: issued.code,
          code_verifier: issued.verifier,
          client_id: client.client_id,
        };
        const asJson = await tokenPost(JSON.stringify(params), { "content-type": "application/json" });
        expectOAuthError(asJson, 400, "invalid_request");
        const asText = await tokenPost(new URLSearchParams(params).toString(), { "content-type": "text/plain" });
        expectOAuthError(asText, 400, "invalid_request");
        const multipart = new FormData();
        for (const [name, value] of Object.entries(params)) multipart.append(name, value);
        const asMultipart = await fetch(`${base}/oauth/token`, { method: "POST", body: multipart });
        expectOAuthError(await readRaw(asMultipart), 400, "invalid_request");
        const untyped = await fetch(`${base}/oauth/token`, { method: "POST", body: new TextEncoder().encode(new URLSearchParams(params).toString()) });
        expectOAuthError(await readRaw(untyped), 400, "invalid_request");
      });

      it("refuses a repeated parameter with invalid_request (OAuth 2.1 §3.2)", async () => {
        const client = await newClient();
        const issued = await codeFor(client);
        const repeatedGrant = await tokenPost([
          ["grant_type", "authorization_code"],
          ["grant_type", "authorization_code"],
          ["code", issued.code],
          ["code_verifier", issued.verifier],
          ["client_id", client.client_id],
        ]);
        expectOAuthError(repeatedGrant, 400, "invalid_request");
        const repeatedCode = await tokenPost([
          ["grant_type", "authorization_code"],
          ["code", issued.code],
          ["code", "another"],
          ["code_verifier", issued.verifier],
          ["client_id", client.client_id],
        ]);
        expectOAuthError(repeatedCode, 400, "invalid_request");
      });

      it("requires grant_type", async () => {
        const client = await newClient();
        expectOAuthError(await tokenPost({ client_id: client.client_id, code: "x" }), 400, "invalid_request");
      });

      it("supports neither the password nor the implicit grant (SEC-10)", async () => {
        const client = await newClient();
        const password = await tokenPost({ grant_type: "password", username: "alice@example.com", password: "correct horse battery", client_id: client.client_id });
        expectOAuthError(password, 400, "unsupported_grant_type");
        const implicit = await tokenPost({ grant_type: "implicit", client_id: client.client_id });
        expectOAuthError(implicit, 400, "unsupported_grant_type");
        const deviceCode = await tokenPost({ grant_type: "urn:ietf:params:oauth:grant-type:device_code", device_code: "x", client_id: client.client_id });
        expectOAuthError(deviceCode, 400, "unsupported_grant_type");
      });

      it("gives client_credentials nothing: unsupported_grant_type, or unauthorized_client for a public client (TK-14)", async () => {
        const publicClient = await newClient();
        const fromPublic = await tokenPost({ grant_type: "client_credentials", client_id: publicClient.client_id });
        expectOAuthError(fromPublic, 400, ["unsupported_grant_type", "unauthorized_client"]);
        const confidential = await newClient({ token_endpoint_auth_method: "client_secret_basic" });
        const fromConfidential = await tokenPost(
          { grant_type: "client_credentials" },
          { authorization: basicAuth(confidential.client_id, confidential.client_secret!) },
        );
        expectOAuthError(fromConfidential, 400, ["unsupported_grant_type", "unauthorized_client"]);
      });
    });

    describe("successful exchange (TK-2, TK-3, TK-12, TK-13)", () => {
      it("answers 200 JSON with a Bearer access token of at most an hour, a refresh token and the scope, never cached", async () => {
        const client = await newClient();
        const response = await redeem(client, await codeFor(client));
        expect(response.status, response.text).toBe(200);
        expect(response.headers.get("content-type")).toMatch(/^application\/json\b/i);
        expect(response.headers.get("cache-control")).toMatch(/\bno-store\b/i);
        expect(response.headers.get("pragma")).toMatch(/\bno-cache\b/i);
        const body = response.json!;
        expect(typeof body.access_token).toBe("string");
        expect((body.access_token as string).length).toBeGreaterThanOrEqual(22);
        expect(body.token_type).toMatch(/^Bearer$/i);
        expect(typeof body.expires_in).toBe("number");
        expect(body.expires_in).toBeGreaterThan(0);
        expect(body.expires_in).toBeLessThanOrEqual(3600);
        expect(typeof body.refresh_token).toBe("string");
        expect(body.refresh_token).not.toBe(body.access_token);
        // PRODUCT §6: `mcp` is granted when the client asks for no scope.
        expect(body.scope).toBe("mcp");
        expect(await mcpBearerStatus(base, body.access_token as string)).not.toBe(401);
      });

      it("ignores parameters it does not know (TK-1)", async () => {
        const client = await newClient();
        const response = await redeem(client, await codeFor(client), { foo: "bar", audience: "x" });
        expect(response.status, response.text).toBe(200);
      });

      it("grants exactly the scope that was consented, and says so (TK-13)", async () => {
        const client = await newClient();
        const response = await redeem(client, await codeFor(client, { scope: "notes:read" }));
        expect(response.status, response.text).toBe(200);
        expect(response.json!.scope).toBe("notes:read");
      });
    });

    describe("code binding (TK-6, TK-9, TK-10; THREATS 11, 15)", () => {
      it("refuses a wrong code_verifier with invalid_grant, and the code is used up anyway", async () => {
        const client = await newClient();
        const issued = await codeFor(client);
        const wrong = await redeem(client, issued, { code_verifier: "x".repeat(43) });
        expectOAuthError(wrong, 400, "invalid_grant");
        const right = await redeem(client, issued);
        expectOAuthError(right, 400, "invalid_grant");
      });

      it("requires the code_verifier (invalid_request)", async () => {
        const client = await newClient();
        const issued = await codeFor(client);
        const { code_verifier: _omitted, ...params } = {
          grant_type: "authorization_code",
          code: issued.code,
          code_verifier: issued.verifier,
          client_id: client.client_id,
          redirect_uri: issued.redirectUri,
        };
        expectOAuthError(await tokenPost(params), 400, "invalid_request");
      });

      it("refuses a code that was never issued", async () => {
        const client = await newClient();
        const response = await tokenPost({ grant_type: "authorization_code", code: "A".repeat(43), code_verifier: "v".repeat(43), client_id: client.client_id });
        expectOAuthError(response, 400, "invalid_grant");
      });

      it("refuses a code redeemed by another client with invalid_grant", async () => {
        const owner = await newClient();
        const other = await newClient();
        const issued = await codeFor(owner);
        expectOAuthError(await redeem(other, issued), 400, "invalid_grant");
      });

      it("refuses a redirect_uri other than the authorization request's with invalid_grant", async () => {
        const client = await newClient();
        const issued = await codeFor(client);
        expectOAuthError(await redeem(client, issued, { redirect_uri: "http://127.0.0.1:9999/other" }), 400, "invalid_grant");
      });

      it("compares redirect_uri with the one the code was issued for, not just any registered form (RFC 6749 §4.1.3)", async () => {
        const client = await newClient();
        // RFC 8252 §7.3: any loopback port is accepted at authorize time ...
        const issued = await codeFor(client, { redirect_uri: "http://127.0.0.1:4567/callback" });
        // ... but the token request must repeat exactly the value that was used.
        expectOAuthError(await redeem(client, issued, { redirect_uri: "http://127.0.0.1:9999/callback" }), 400, "invalid_grant");
        const again = await codeFor(client, { redirect_uri: "http://127.0.0.1:4567/callback" });
        expect((await redeem(client, again)).status).toBe(200);
      });

      it("accepts a token request that omits redirect_uri (OAuth 2.1 §4.1.3)", async () => {
        const client = await newClient();
        const issued = await codeFor(client);
        const response = await tokenPost({
          grant_type: "authorization_code",
          code: issued.code,
          code_verifier: issued.verifier,
          client_id: client.client_id,
          resource: `${base}/mcp`,
        });
        expect(response.status, response.text).toBe(200);
        expect(await mcpBearerStatus(base, tokensOf(response).access_token)).not.toBe(401);
      });

      it("refuses a resource outside the grant with invalid_target (RFC 8707 §2)", async () => {
        const client = await newClient();
        expectOAuthError(await redeem(client, await codeFor(client), { resource: "https://other.example/mcp" }), 400, "invalid_target");
        expectOAuthError(await redeem(client, await codeFor(client), { resource: `${base}/mcp#frag` }), 400, "invalid_target");
      });
    });

    describe("single use (TK-8; THREATS 12-14)", () => {
      it("refuses a second redemption and revokes what the first one issued", async () => {
        const client = await sharedClient();
        const issued = await codeFor(client);
        const first = await redeem(client, issued);
        expect(first.status, first.text).toBe(200);
        const { access_token, refresh_token } = tokensOf(first);
        expect(await mcpBearerStatus(base, access_token)).not.toBe(401);

        expectOAuthError(await redeem(client, issued), 400, "invalid_grant");
        expect(await mcpStatusAfterRevocation(base, access_token)).toBe(401);
        expectOAuthError(await refreshGrant(base, client.client_id, refresh_token), 400, "invalid_grant");
      });

      it("does not revoke anything when the replay carries a wrong code_verifier", async () => {
        const client = await newClient();
        const issued = await codeFor(client);
        const first = await redeem(client, issued);
        expect(first.status, first.text).toBe(200);
        const { access_token, refresh_token } = tokensOf(first);

        expectOAuthError(await redeem(client, issued, { code_verifier: "w".repeat(43) }), 400, "invalid_grant");
        expect(await mcpBearerStatus(base, access_token)).not.toBe(401);
        expect((await refreshGrant(base, client.client_id, refresh_token)).status).toBe(200);
      });

      it("does not revoke anything when another client replays the code (THREATS 13)", async () => {
        const owner = await newClient();
        const intruder = await newClient();
        const issued = await codeFor(owner);
        const first = await redeem(owner, issued);
        expect(first.status, first.text).toBe(200);

        expectOAuthError(await redeem(intruder, issued), 400, "invalid_grant");
        expect(await mcpBearerStatus(base, tokensOf(first).access_token)).not.toBe(401);
        expect((await refreshGrant(base, owner.client_id, tokensOf(first).refresh_token)).status).toBe(200);
      });

      it("lets exactly one of 20 concurrent redemptions succeed", async () => {
        const client = await sharedClient();
        const issued = await codeFor(client);
        const results = await Promise.all(Array.from({ length: 20 }, () => redeem(client, issued)));
        const winners = results.filter((r) => r.status === 200);
        expect(winners).toHaveLength(1);
        for (const loser of results.filter((r) => r.status !== 200)) expectOAuthError(loser, 400, "invalid_grant");
      });

      it("revokes the winner's tokens when the concurrent losers were valid replays (RFC 6749 §4.1.2)", async () => {
        const client = await sharedClient();
        const issued = await codeFor(client);
        const results = await Promise.all(Array.from({ length: 5 }, () => redeem(client, issued)));
        const winners = results.filter((r) => r.status === 200);
        expect(winners).toHaveLength(1);
        expect(await mcpStatusAfterRevocation(base, tokensOf(winners[0]!).access_token)).toBe(401);
        expectOAuthError(await refreshGrant(base, client.client_id, tokensOf(winners[0]!).refresh_token), 400, "invalid_grant");
      });

      it("honours a code up to its 60 s lifetime (PRODUCT §6)", async () => {
        const client = await newClient();
        const issued = await codeFor(client);
        clock.advance(55_000);
        expect((await redeem(client, issued)).status).toBe(200);
      });

      it("refuses an expired code with invalid_grant (AZ-10)", async () => {
        const client = await newClient();
        const issued = await codeFor(client);
        clock.advance(61_000);
        expectOAuthError(await redeem(client, issued), 400, "invalid_grant");
      });
    });

    describe("client authentication (TK-5, TK-11; THREATS 23; DCR-8)", () => {
      const confidential = (method: "client_secret_basic" | "client_secret_post") => newClient({ token_endpoint_auth_method: method });

      it("accepts HTTP Basic from a client_secret_basic client, without client_id in the body", async () => {
        const client = await confidential("client_secret_basic");
        expect(client.client_secret).toEqual(expect.any(String));
        const issued = await codeFor(client);
        const { client_id: _omitted, ...params } = {
          grant_type: "authorization_code",
          code: issued.code,
          code_verifier: issued.verifier,
          client_id: client.client_id,
          redirect_uri: issued.redirectUri,
        };
        const response = await tokenPost(params, { authorization: basicAuth(client.client_id, client.client_secret!) });
        expect(response.status, response.text).toBe(200);
        expect(await mcpBearerStatus(base, tokensOf(response).access_token)).not.toBe(401);
      });

      it("accepts HTTP Basic with the same client_id repeated in the body", async () => {
        const client = await confidential("client_secret_basic");
        const response = await redeem(client, await codeFor(client), {}, { authorization: basicAuth(client.client_id, client.client_secret!) });
        expect(response.status, response.text).toBe(200);
      });

      it("form-decodes both halves of the Basic credentials (RFC 6749 §2.3.1)", async () => {
        const client = await confidential("client_secret_basic");
        const everyByte = (s: string) => [...Buffer.from(s)].map((b) => `%${b.toString(16).toUpperCase().padStart(2, "0")}`).join("");
        const header = `Basic ${Buffer.from(`${everyByte(client.client_id)}:${everyByte(client.client_secret!)}`).toString("base64")}`;
        const response = await redeem(client, await codeFor(client), {}, { authorization: header });
        expect(response.status, response.text).toBe(200);
      });

      it("refuses the secret in the body from a client_secret_basic client (invalid_client)", async () => {
        const client = await confidential("client_secret_basic");
        const response = await redeem(client, await codeFor(client), { client_secret: client.client_secret! });
        expectOAuthError(response, [400, 401], "invalid_client");
      });

      it("answers a wrong Basic secret with 401 invalid_client and a Basic challenge", async () => {
        const client = await confidential("client_secret_basic");
        const response = await redeem(client, await codeFor(client), {}, { authorization: basicAuth(client.client_id, `${client.client_secret}x`) });
        expectOAuthError(response, 401, "invalid_client");
        expect(response.headers.get("www-authenticate")).toMatch(/^Basic\b/i);
      });

      it("answers Basic credentials of an unknown client with 401 and a Basic challenge", async () => {
        const client = await confidential("client_secret_basic");
        const response = await redeem(client, await codeFor(client), { client_id: "gh_nobody" }, { authorization: basicAuth("gh_nobody", "secret") });
        expectOAuthError(response, 401, "invalid_client");
        expect(response.headers.get("www-authenticate")).toMatch(/^Basic\b/i);
      });

      it("answers a malformed Basic header with 401 and a Basic challenge", async () => {
        const client = await confidential("client_secret_basic");
        for (const header of ["Basic !!!not-base64!!!", "Basic", `Basic ${Buffer.from(`${client.client_id}${client.client_secret}`).toString("base64")}`]) {
          const issued = await codeFor(client);
          const { client_id: _omitted, ...params } = {
            grant_type: "authorization_code",
            code: issued.code,
            code_verifier: issued.verifier,
            client_id: client.client_id,
          };
          const response = await tokenPost(params, { authorization: header });
          expectOAuthError(response, 401, "invalid_client");
          expect(response.headers.get("www-authenticate"), header).toMatch(/^Basic\b/i);
        }
      });

      it("refuses Basic and client_secret in the body together with invalid_request (OAuth 2.1 §2.4)", async () => {
        const client = await confidential("client_secret_basic");
        const response = await redeem(
          client,
          await codeFor(client),
          { client_secret: client.client_secret! },
          { authorization: basicAuth(client.client_id, client.client_secret!) },
        );
        expectOAuthError(response, 400, "invalid_request");
      });

      it("refuses a confidential client that sends no secret at all", async () => {
        const client = await confidential("client_secret_basic");
        expectOAuthError(await redeem(client, await codeFor(client)), 401, "invalid_client");
      });

      it("accepts client_secret in the body from a client_secret_post client", async () => {
        const client = await confidential("client_secret_post");
        const response = await redeem(client, await codeFor(client), { client_secret: client.client_secret! });
        expect(response.status, response.text).toBe(200);
        expect(await mcpBearerStatus(base, tokensOf(response).access_token)).not.toBe(401);
      });

      it("refuses HTTP Basic from a client_secret_post client (invalid_client, 401 with a Basic challenge)", async () => {
        const client = await confidential("client_secret_post");
        const response = await redeem(client, await codeFor(client), {}, { authorization: basicAuth(client.client_id, client.client_secret!) });
        expectOAuthError(response, 401, "invalid_client");
        expect(response.headers.get("www-authenticate")).toMatch(/^Basic\b/i);
      });

      it("refuses a wrong body secret from a client_secret_post client", async () => {
        const client = await confidential("client_secret_post");
        const response = await redeem(client, await codeFor(client), { client_secret: "ghs_wrong" });
        expectOAuthError(response, 401, "invalid_client");
      });

      it("refuses a public client that sends a client_secret (DCR-8: one client, one type)", async () => {
        const client = await newClient();
        const response = await redeem(client, await codeFor(client), { client_secret: "anything" });
        expectOAuthError(response, [400, 401], "invalid_client");
      });

      it("answers an unknown client_id with 401 invalid_client", async () => {
        const response = await tokenPost({ grant_type: "authorization_code", code: "x", code_verifier: "v".repeat(43), client_id: "gh_unknown" });
        expectOAuthError(response, 401, "invalid_client");
      });

      it("MD-10: a browser client's exchange carries Access-Control-Allow-Origin: *, on success and on error", async () => {
        const client = await newClient();
        const issued = await codeFor(client);
        const origin = { origin: "https://inspector.example" };
        const ok = await redeem(client, issued, {}, origin);
        expect(ok.status, ok.text).toBe(200);
        expect(ok.headers.get("access-control-allow-origin")).toBe("*");
        const replay = await redeem(client, issued, {}, origin);
        expectOAuthError(replay, 400, "invalid_grant");
        expect(replay.headers.get("access-control-allow-origin")).toBe("*");
      });

      it("answers a request naming no client at all with invalid_client", async () => {
        const response = await tokenPost({ grant_type: "authorization_code", code: "x", code_verifier: "v".repeat(43) });
        expectOAuthError(response, [400, 401], "invalid_client");
      });
    });

    it("refuses a plain-http public URL outside loopback (TK-15, OAuth 2.1 §1.5)", () => {
      expect(() => loadConfig({ GATEHOUSE_PUBLIC_URL: "http://mcp.example.com" })).toThrow(/GATEHOUSE_PUBLIC_URL/);
      expect(loadConfig({ GATEHOUSE_PUBLIC_URL: "https://mcp.example.com" }).publicUrl).toBe("https://mcp.example.com");
      expect(loadConfig({ GATEHOUSE_PUBLIC_URL: "http://127.0.0.1:8787" }).publicUrl).toBe("http://127.0.0.1:8787");
    });

    describe("client-secret guessing is throttled per client_id (THREATS 23), with the production limiter", () => {
      let limited: TestServer;
      beforeAll(async () => {
        // Only `clientSecret` keeps createServices' default: 20 failures per 5 minutes, then 5 minutes blocked.
        limited = await startTestServer(driver, { appDeps: { rateLimits: { register: unlimited, loginByIp: unlimited, loginByAccount: unlimited } } });
      });
      afterAll(async () => limited?.close());

      const ENDPOINTS = [
        ["/oauth/token", { grant_type: "authorization_code", code: "not-a-real-code", code_verifier: "v".repeat(43) }],
        ["/oauth/revoke", { token: "not-a-token" }],
        ["/oauth/introspect", { token: "not-a-token" }],
      ] as const;
      const call = (index: number, client: ClientRegistration, secret: string) => {
        const [path, form] = ENDPOINTS[index % ENDPOINTS.length]!;
        return postForm(`${limited.base}${path}`, form, { authorization: basicAuth(client.client_id, secret), origin: "https://inspector.example" });
      };
      const expectAuthenticated = (response: RawResponse, label: string) => {
        expect(response.status, `${label}: ${response.text}`).not.toBe(401);
        expect(response.status, `${label}: ${response.text}`).not.toBe(429);
      };

      it("the 21st wrong secret across token, revocation and introspection answers 429 slow_down and so does every further wrong one; the right secret always passes (no lock-out by a stranger); other clients are unaffected", async () => {
        const victim = await registerClient(limited.base, { client_name: "Guessed", token_endpoint_auth_method: "client_secret_basic" });
        const bystander = await registerClient(limited.base, { client_name: "Bystander", token_endpoint_auth_method: "client_secret_basic" });
        for (let i = 0; i < 19; i++) expectOAuthError(await call(i, victim, `ghs_guess${i}`), 401, "invalid_client");
        for (let i = 0; i < 5; i++) expectAuthenticated(await call(i, victim, victim.client_secret!), `right secret ${i + 1} after 19 failures`);
        expectOAuthError(await call(19, victim, "ghs_guess19"), 401, "invalid_client");

        const blocked = await call(0, victim, "ghs_guess20");
        expectOAuthError(blocked, 429, "slow_down");
        expect(Number(blocked.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
        expect(Number(blocked.headers.get("retry-after"))).toBeLessThanOrEqual(300);
        expect(blocked.headers.get("retry-after")).toMatch(/^\d+$/);
        expect(blocked.headers.get("access-control-allow-origin")).toBe("*");
        for (let i = 0; i < ENDPOINTS.length; i++) {
          const wrong = await call(i, victim, `ghs_more${i}`);
          expectOAuthError(wrong, 429, "slow_down");
          expect(wrong.headers.get("retry-after"), ENDPOINTS[i]![0]).toMatch(/^\d+$/);
          expectAuthenticated(await call(i, victim, victim.client_secret!), `right secret while blocked at ${ENDPOINTS[i]![0]}`);
        }
        expectAuthenticated(await call(0, bystander, bystander.client_secret!), "another client");
        expectOAuthError(await call(0, bystander, "ghs_wrong"), 401, "invalid_client");
      });
    });

    // PRODUCT §6: single use is an atomic take in the shared database, whichever node each redemption reaches.
    if (driver === "postgres") {
      describe("two nodes on one database", () => {
        let nodeB: TestServer;
        beforeAll(async () => {
          nodeB = await startTestServer(driver, { clock, testDb: server.testDb, config: { publicUrl: server.base }, appDeps: { toolScopes: TOOL_SCOPES } });
        });
        afterAll(async () => nodeB?.close());

        it("lets exactly one of 20 concurrent redemptions spread over both nodes succeed", async () => {
          const client = await sharedClient();
          const issued = await codeFor(client);
          const form = {
            grant_type: "authorization_code",
            code: issued.code,
            code_verifier: issued.verifier,
            client_id: client.client_id,
            redirect_uri: issued.redirectUri,
          };
          const results = await Promise.all(Array.from({ length: 20 }, (_, i) => postForm(`${i % 2 ? nodeB.running.url : base}/oauth/token`, form)));
          expect(results.filter((r) => r.status === 200)).toHaveLength(1);
          for (const loser of results.filter((r) => r.status !== 200)) expectOAuthError(loser, 400, "invalid_grant");
        });

        it("revokes on one node what a redemption on the other issued, when the code is replayed", async () => {
          const client = await sharedClient();
          const issued = await codeFor(client);
          const form = { grant_type: "authorization_code", code: issued.code, code_verifier: issued.verifier, client_id: client.client_id };
          const first = await postForm(`${base}/oauth/token`, form);
          expect(first.status, first.text).toBe(200);
          expectOAuthError(await postForm(`${nodeB.running.url}/oauth/token`, form), 400, "invalid_grant");
          expect(await mcpStatusAfterRevocation(base, tokensOf(first).access_token)).toBe(401);
          expectOAuthError(await refreshGrant(base, client.client_id, tokensOf(first).refresh_token), 400, "invalid_grant");
        });
      });
    }
  });
}
