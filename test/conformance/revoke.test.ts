/**
 * Revocation (RFC 7009; SPEC-CHECKLIST RV-1..RV-6; THREATS 24, 44) and
 * introspection (RFC 7662; THREATS 25) from the outside. A client revokes
 * only its own tokens; introspection is for authenticated (confidential)
 * callers and shows them only their own tokens.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ManualClock } from "../../src/clock.js";
import type { BusMessage, EventBus } from "../../src/bus/bus.js";
import { drivers } from "../helpers/databases.js";
import {
  authorizeForCode,
  basicAuth,
  connect,
  expectOAuthError,
  expectRefreshRefused,
  mcpBearerStatus,
  mcpStatusAfterRevocation,
  postForm,
  refreshGrant,
  registerClient,
  signIn,
  type ClientRegistration,
  type CookieJar,
  type RawResponse,
} from "../helpers/oauth.js";
import { startTestServer, type TestServer } from "../helpers/server.js";

interface Pair {
  access_token: string;
  refresh_token: string;
}

for (const driver of drivers()) {
  describe(`revocation and introspection (${driver})`, () => {
    const clock = new ManualClock(Date.now());
    let server: TestServer;
    let base: string;
    let alice: CookieJar;
    let bob: CookieJar;
    let clients = 0;

    beforeAll(async () => {
      server = await startTestServer(driver, { clock });
      base = server.base;
      await server.addUser("alice@example.com", "alice's long password");
      await server.addUser("bob@example.com", "bob's long password");
      alice = await signIn(base, "alice@example.com", "alice's long password");
      bob = await signIn(base, "bob@example.com", "bob's long password");
    });
    afterAll(async () => server?.close());

    const newClient = (metadata: Record<string, unknown> = {}) => registerClient(base, { client_name: `revoke-test-${++clients}`, ...metadata });
    const revoke = (form: Record<string, string>, headers: Record<string, string> = {}) => postForm(`${base}/oauth/revoke`, form, headers);
    const introspect = (form: Record<string, string>, headers: Record<string, string> = {}) => postForm(`${base}/oauth/introspect`, form, headers);
    const refreshOk = async (client: ClientRegistration, refreshToken: string): Promise<Pair> => {
      const response = await refreshGrant(base, client.client_id, refreshToken);
      expect(response.status, response.text).toBe(200);
      return response.json as unknown as Pair;
    };
    const expectNoStore = (response: RawResponse) => expect(response.headers.get("cache-control") ?? "").toMatch(/\bno-store\b/i);
    /** Alice connected to a fresh public client that bob is connected to as well, so the registration outlives her connection. */
    const shared = async () => {
      const client = await newClient();
      const bobTokens = (await connect(base, bob, client)).tokens as Pair;
      const tokens = (await connect(base, alice, client)).tokens as Pair;
      return { client, tokens, bobTokens };
    };
    /** Alice connected to a confidential client through HTTP Basic. */
    const confidentialConnection = async (method: "client_secret_basic" | "client_secret_post" = "client_secret_basic") => {
      const client = await newClient({ token_endpoint_auth_method: method });
      const auth: Record<string, string> = method === "client_secret_basic" ? { authorization: basicAuth(client.client_id, client.client_secret!) } : {};
      const body: Record<string, string> = method === "client_secret_post" ? { client_id: client.client_id, client_secret: client.client_secret! } : {};
      const issued = await authorizeForCode(base, alice, client);
      const response = await postForm(
        `${base}/oauth/token`,
        { grant_type: "authorization_code", code: issued.code, code_verifier: issued.verifier, redirect_uri: issued.redirectUri, ...body },
        auth,
      );
      expect(response.status, response.text).toBe(200);
      return { client, auth, body, tokens: response.json as unknown as Pair };
    };

    describe("revocation (RFC 7009)", () => {
      it("revokes a refresh token: 200, the token is dead, and so are the access tokens of its grant (RV-1, RV-3)", async () => {
        const { client, tokens } = await shared();
        const next = await refreshOk(client, tokens.refresh_token);
        const response = await revoke({ token: next.refresh_token, client_id: client.client_id });
        expect(response.status, response.text).toBe(200);
        expectNoStore(response);
        expectOAuthError(await refreshGrant(base, client.client_id, next.refresh_token), 400, "invalid_grant");
        expect(await mcpStatusAfterRevocation(base, next.access_token)).toBe(401);
        expect(await mcpStatusAfterRevocation(base, tokens.access_token)).toBe(401);
      });

      it("revokes an access token alone: the refresh token and other access tokens keep working (RV-1)", async () => {
        const { client, tokens } = await shared();
        const next = await refreshOk(client, tokens.refresh_token);
        const response = await revoke({ token: tokens.access_token, client_id: client.client_id });
        expect(response.status, response.text).toBe(200);
        expectNoStore(response);
        expect(await mcpStatusAfterRevocation(base, tokens.access_token)).toBe(401);
        expect(await mcpBearerStatus(base, next.access_token)).not.toBe(401);
        const after = await refreshOk(client, next.refresh_token);
        expect(await mcpBearerStatus(base, after.access_token)).not.toBe(401);
      });

      it("answers 200 for a token it does not know, and for one already revoked (RV-2)", async () => {
        const { client, tokens } = await shared();
        const unknown = await revoke({ token: "ghr_this-token-was-never-issued", client_id: client.client_id });
        expect(unknown.status, unknown.text).toBe(200);
        expectNoStore(unknown);
        expect((await revoke({ token: tokens.refresh_token, client_id: client.client_id })).status).toBe(200);
        const again = await revoke({ token: tokens.refresh_token, client_id: client.client_id });
        expect(again.status, again.text).toBe(200);
      });

      it("refuses a request without a token with invalid_request (RV-5)", async () => {
        const client = await newClient();
        expectOAuthError(await revoke({ client_id: client.client_id }), 400, "invalid_request");
        expectOAuthError(await revoke({ client_id: client.client_id, token_type_hint: "refresh_token" }), 400, "invalid_request");
      });

      it("refuses bodies that are not application/x-www-form-urlencoded (RV-1)", async () => {
        const { client, tokens } = await shared();
        const response = await fetch(`${base}/oauth/revoke`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ token: tokens.refresh_token, client_id: client.client_id }),
        });
        expect(response.status).toBe(400);
        expect(await response.json()).toMatchObject({ error: "invalid_request" });
        await refreshOk(client, tokens.refresh_token);
      });

      it("answers 200 to another client's token and leaves it working (RV-4, THREATS 24)", async () => {
        const { client, tokens } = await shared();
        const intruder = await newClient();
        for (const token of [tokens.refresh_token, tokens.access_token]) {
          const response = await revoke({ token, client_id: intruder.client_id });
          expect(response.status, response.text).toBe(200);
        }
        const confidential = await newClient({ token_endpoint_auth_method: "client_secret_basic" });
        const viaBasic = await revoke({ token: tokens.refresh_token }, { authorization: basicAuth(confidential.client_id, confidential.client_secret!) });
        expect(viaBasic.status, viaBasic.text).toBe(200);
        expect(await mcpBearerStatus(base, tokens.access_token)).not.toBe(401);
        await refreshOk(client, tokens.refresh_token);
      });

      it("finds the token whatever the token_type_hint says (RV-2)", async () => {
        const first = await shared();
        const viaWrongHint = await revoke({ token: first.tokens.refresh_token, token_type_hint: "access_token", client_id: first.client.client_id });
        expect(viaWrongHint.status).toBe(200);
        expectOAuthError(await refreshGrant(base, first.client.client_id, first.tokens.refresh_token), 400, "invalid_grant");

        const second = await shared();
        const accessWrongHint = await revoke({ token: second.tokens.access_token, token_type_hint: "refresh_token", client_id: second.client.client_id });
        expect(accessWrongHint.status).toBe(200);
        expect(await mcpStatusAfterRevocation(base, second.tokens.access_token)).toBe(401);

        const third = await shared();
        const unknownHint = await revoke({ token: third.tokens.refresh_token, token_type_hint: "id_token", client_id: third.client.client_id });
        expect(unknownHint.status, unknownHint.text).toBe(200);
        expectOAuthError(await refreshGrant(base, third.client.client_id, third.tokens.refresh_token), 400, "invalid_grant");
      });

      it("revokes only the named user's connection, not other users' connections to the client", async () => {
        const { client, tokens, bobTokens } = await shared();
        expect((await revoke({ token: tokens.refresh_token, client_id: client.client_id })).status).toBe(200);
        expect(await mcpBearerStatus(base, bobTokens.access_token)).not.toBe(401);
        await refreshOk(client, bobTokens.refresh_token);
      });

      it("requires a confidential client's secret, and revokes with it (RFC 7009 §2.1)", async () => {
        const { client, auth, tokens } = await confidentialConnection("client_secret_basic");
        const anonymous = await revoke({ token: tokens.refresh_token, client_id: client.client_id });
        expectOAuthError(anonymous, 401, "invalid_client");
        const wrong = await revoke({ token: tokens.refresh_token }, { authorization: basicAuth(client.client_id, "ghs_wrong") });
        expectOAuthError(wrong, 401, "invalid_client");
        expect(wrong.headers.get("www-authenticate")).toMatch(/^Basic\b/i);
        expect(await mcpBearerStatus(base, tokens.access_token)).not.toBe(401);

        const response = await revoke({ token: tokens.refresh_token }, auth);
        expect(response.status, response.text).toBe(200);
        expect(await mcpStatusAfterRevocation(base, tokens.access_token)).toBe(401);
        expectRefreshRefused(await postForm(`${base}/oauth/token`, { grant_type: "refresh_token", refresh_token: tokens.refresh_token }, auth));
      });

      it("accepts client_secret_post credentials from a client_secret_post client", async () => {
        const { body, tokens } = await confidentialConnection("client_secret_post");
        const response = await revoke({ token: tokens.access_token, ...body });
        expect(response.status, response.text).toBe(200);
        expect(await mcpStatusAfterRevocation(base, tokens.access_token)).toBe(401);
      });

      it("refuses an unknown or missing client with invalid_client", async () => {
        const { tokens } = await shared();
        expectOAuthError(await revoke({ token: tokens.refresh_token, client_id: "gh_nobody" }), 401, "invalid_client");
        expectOAuthError(await revoke({ token: tokens.refresh_token }), [400, 401], "invalid_client");
        expect(await mcpBearerStatus(base, tokens.access_token)).not.toBe(401);
      });
    });

    describe("introspection (RFC 7662)", () => {
      it("refuses public clients with 401 invalid_client (PRODUCT §5: authenticated callers only)", async () => {
        const { client, tokens } = await shared();
        const response = await introspect({ token: tokens.access_token, client_id: client.client_id });
        expectOAuthError(response, 401, "invalid_client");
        expectOAuthError(await introspect({ token: tokens.access_token }), [400, 401], "invalid_client");
      });

      it("describes a confidential client's own access token: active, scope, client_id, sub, exp, aud", async () => {
        const { client, auth, tokens } = await confidentialConnection();
        const response = await introspect({ token: tokens.access_token }, auth);
        expect(response.status, response.text).toBe(200);
        expect(response.headers.get("content-type")).toMatch(/^application\/json\b/i);
        expectNoStore(response);
        const body = response.json!;
        expect(body.active).toBe(true);
        expect(body.scope).toBe("mcp");
        expect(body.client_id).toBe(client.client_id);
        expect(typeof body.sub).toBe("string");
        expect((body.sub as string).length).toBeGreaterThan(0);
        const nowSeconds = clock.now() / 1000;
        expect(typeof body.exp).toBe("number");
        expect(body.exp).toBeGreaterThan(nowSeconds);
        expect(body.exp).toBeLessThanOrEqual(nowSeconds + 3600 + 1);
        const audience = Array.isArray(body.aud) ? body.aud : [body.aud];
        expect(audience).toContain(`${base}/mcp`);
        if (body.iss !== undefined) expect(body.iss).toBe(base);
        if (body.token_type !== undefined) expect(body.token_type).toMatch(/^Bearer$/i);
      });

      it("accepts client_secret_post credentials from a client_secret_post client", async () => {
        const { body, tokens } = await confidentialConnection("client_secret_post");
        const response = await introspect({ token: tokens.access_token, ...body });
        expect(response.status, response.text).toBe(200);
        expect(response.json!.active).toBe(true);
      });

      it("answers exactly {active:false} for someone else's token, and garbage (THREATS 25)", async () => {
        const mine = await confidentialConnection();
        const theirs = await shared();
        const otherConfidential = await confidentialConnection();
        for (const token of [
          theirs.tokens.access_token,
          otherConfidential.tokens.access_token,
          "garbage",
          `gha_${"A".repeat(43)}`,
          "x".repeat(5000),
        ]) {
          const response = await introspect({ token }, mine.auth);
          expect(response.status, response.text).toBe(200);
          expectNoStore(response);
          expect(response.json, token.slice(0, 20)).toEqual({ active: false });
        }
        // Looking did not change anything for the owners.
        expect(await mcpBearerStatus(base, theirs.tokens.access_token)).not.toBe(401);
      });

      it("answers {active:false} for a revoked access token", async () => {
        const { auth, tokens } = await confidentialConnection();
        expect((await revoke({ token: tokens.access_token }, auth)).status).toBe(200);
        const response = await introspect({ token: tokens.access_token }, auth);
        expect(response.status).toBe(200);
        expect(response.json).toEqual({ active: false });
      });

      it("refuses a wrong secret with 401 invalid_client and a Basic challenge", async () => {
        const { client, tokens } = await confidentialConnection();
        const response = await introspect({ token: tokens.access_token }, { authorization: basicAuth(client.client_id, "ghs_wrong") });
        expectOAuthError(response, 401, "invalid_client");
        expect(response.headers.get("www-authenticate")).toMatch(/^Basic\b/i);
      });

      it("requires the token parameter (invalid_request)", async () => {
        const { auth } = await confidentialConnection();
        expectOAuthError(await introspect({}, auth), 400, "invalid_request");
      });

      it("answers {active:false} for an expired access token", async () => {
        const { auth, tokens } = await confidentialConnection();
        clock.advance(3600_000 + 1_000);
        const response = await introspect({ token: tokens.access_token }, auth);
        expect(response.status).toBe(200);
        expect(response.json).toEqual({ active: false });
        alice = await signIn(base, "alice@example.com", "alice's long password");
        bob = await signIn(base, "bob@example.com", "bob's long password");
      });
    });
  });
}

/** A bus that has not yet delivered anything: only what the node did itself before answering counts. */
class StalledBus implements EventBus {
  readonly reliable = true;
  readonly held: BusMessage[] = [];
  async publish(message: BusMessage): Promise<void> {
    this.held.push(message);
  }
  subscribe() {
    return () => {};
  }
  onReset() {
    return () => {};
  }
  async close(): Promise<void> {}
}

for (const driver of drivers()) {
  describe(`a revocation applies on this node before it is answered, however slow the bus (${driver})`, () => {
    let server: TestServer;
    let jar: CookieJar;
    const bus = new StalledBus();

    beforeAll(async () => {
      server = await startTestServer(driver, { gatehouse: { bus } });
      await server.addUser("carol@example.com", "carol's long password");
      jar = await signIn(server.base, "carol@example.com", "carol's long password");
    });
    afterAll(async () => server?.close());

    it("a revoked access token gets 401 on the very next call; the connection lives on", async () => {
      const client = await registerClient(server.base, { client_name: "stalled-bus-access" });
      const tokens = (await connect(server.base, jar, client)).tokens as Pair;
      expect(await mcpBearerStatus(server.base, tokens.access_token)).not.toBe(401); // now cached
      const response = await postForm(`${server.base}/oauth/revoke`, { token: tokens.access_token, token_type_hint: "access_token", client_id: client.client_id });
      expect(response.status).toBe(200);
      expect(await mcpBearerStatus(server.base, tokens.access_token)).toBe(401);
      expect(bus.held.some((message) => message.type === "access-token-revoked")).toBe(true);
      expect((await refreshGrant(server.base, client.client_id, tokens.refresh_token)).status).toBe(200);
    });

    it("a revoked refresh token takes its access token with it on the very next call", async () => {
      const client = await registerClient(server.base, { client_name: "stalled-bus-refresh" });
      const tokens = (await connect(server.base, jar, client)).tokens as Pair;
      expect(await mcpBearerStatus(server.base, tokens.access_token)).not.toBe(401);
      const response = await postForm(`${server.base}/oauth/revoke`, { token: tokens.refresh_token, client_id: client.client_id });
      expect(response.status).toBe(200);
      expect(await mcpBearerStatus(server.base, tokens.access_token)).toBe(401);
    });
  });
}
