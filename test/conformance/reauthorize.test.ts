/**
 * Client registrations outlive their connections (PRODUCT §6, issue 9): real
 * clients store their `client_id` and sign in again with it after a
 * Disconnect on /user, an RFC 7009 revocation or refresh-token reuse
 * detection — for public and confidential dynamic clients, clients an
 * operator pre-registered, and metadata-document clients alike. A dead refresh token from a known client is
 * `400 invalid_grant` (RFC 6749 §5.2), never `401 invalid_client`.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { systemClock } from "../../src/clock.js";
import { addStaticClient } from "../../src/oauth/static-clients.js";
import { drivers } from "../helpers/databases.js";
import { api, type Credential, pageAt, PASSWORD, submit } from "../helpers/console.js";
import {
  authorizeForCode,
  basicAuth,
  expectOAuthError,
  formFields,
  mcpBearerStatus,
  mcpStatusAfterRevocation,
  openAuthorize,
  pkce,
  postDecision,
  postForm,
  registerClient,
  signIn,
  startHttpsFixture,
  tokenRequest,
  type ClientRegistration,
  type CookieJar,
  type HttpsFixture,
} from "../helpers/oauth.js";
import { startTestServer, type TestServer } from "../helpers/server.js";

const CIMD_CB = "http://127.0.0.1:7778/cb";

let fixture: HttpsFixture;
beforeAll(async () => {
  fixture = await startHttpsFixture((req: IncomingMessage, res: ServerResponse, port: number) => {
    const self = `https://localhost:${port}${req.url ?? "/"}`;
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ client_id: self, client_name: "Returning App", redirect_uris: [CIMD_CB], token_endpoint_auth_method: "none" }));
  });
});
afterAll(async () => fixture?.close());

interface Client extends ClientRegistration {
  /** Headers that authenticate this client at the token and revocation endpoints. */
  auth: Record<string, string>;
}

type Pair = { access_token: string; refresh_token: string };

for (const driver of drivers()) {
  describe(`client registrations outlive their connections (${driver})`, () => {
    let server: TestServer;
    let base: string;
    let alice: CookieJar;
    let clients = 0;

    beforeAll(async () => {
      server = await startTestServer(driver, { config: { cimdAllowHosts: ["localhost"] }, appDeps: { cimd: { ca: fixture.cert } } });
      base = server.base;
      await server.addUser("alice@example.com", PASSWORD);
      alice = await signIn(base, "alice@example.com", PASSWORD);
    });
    afterAll(async () => server?.close());

    const kinds: Record<string, () => Promise<Client>> = {
      "public dynamic client": async () => {
        const client = await registerClient(base, { client_name: `Public ${++clients}`, token_endpoint_auth_method: "none" });
        return { ...client, auth: {} };
      },
      "confidential dynamic client": async () => {
        const client = await registerClient(base, { client_name: `Confidential ${++clients}`, token_endpoint_auth_method: "client_secret_basic" });
        return { ...client, auth: { authorization: basicAuth(client.client_id, client.client_secret!) } };
      },
      "pre-registered client": async () => {
        const { client } = await addStaticClient(server.testDb.database.db, systemClock, {
          name: `Pre-registered ${++clients}`,
          redirectUris: ["http://127.0.0.1:7780/cb"],
          confidential: false,
        });
        return { client_id: client.clientId, client_name: client.name ?? undefined, redirect_uris: client.redirectUris, auth: {} };
      },
      "metadata-document client": async () => ({
        client_id: `https://localhost:${fixture.port}/${driver}/app-${++clients}.json`,
        redirect_uris: [CIMD_CB],
        auth: {},
      }),
    };

    /** The client's side of the OAuth flow with the same client_id: consent, code, tokens; /mcp accepts them. */
    async function signInWith(client: Client): Promise<Pair> {
      const issued = await authorizeForCode(base, alice, client);
      const params: Record<string, string> = { grant_type: "authorization_code", code: issued.code, code_verifier: issued.verifier, redirect_uri: issued.redirectUri };
      if (!client.auth.authorization) params.client_id = client.client_id;
      const tokens = await tokenRequest(base, params, client.auth);
      expect(tokens.status, JSON.stringify(tokens.body)).toBe(200);
      const pair = tokens.body as unknown as Pair;
      expect(await mcpBearerStatus(base, pair.access_token)).not.toBe(401);
      return pair;
    }

    const refresh = (client: Client, refreshToken: string) =>
      postForm(`${base}/oauth/token`, { grant_type: "refresh_token", refresh_token: refreshToken, ...(client.auth.authorization ? {} : { client_id: client.client_id }) }, client.auth);

    const ends: Record<string, (client: Client, pair: Pair) => Promise<void>> = {
      "Disconnect on /user": async (client) => {
        const listed = (await api(base, "/tokens", { cookie: alice })).json as { tokens: Credential[] };
        const id = listed.tokens.find((t) => t.kind === "mcp" && t.client?.id === client.client_id)?.id;
        expect(id, "the connection is listed on /user").toBeDefined();
        const page = await pageAt(base, "/user", alice);
        const response = await submit(base, `/user/tokens/${id}/delete`, alice, formFields(page.html, `/user/tokens/${id}/delete`));
        expect(response.status).toBe(303);
      },
      "RFC 7009 revocation": async (client, pair) => {
        const params = { token: pair.refresh_token, token_type_hint: "refresh_token", ...(client.auth.authorization ? {} : { client_id: client.client_id }) };
        expect((await postForm(`${base}/oauth/revoke`, params, client.auth)).status).toBe(200);
      },
      "refresh-token reuse detection": async (client, pair) => {
        const first = (await refresh(client, pair.refresh_token)).json as unknown as Pair;
        expect(first.refresh_token).toEqual(expect.any(String));
        // Using the successor makes the original an older token; presenting it again is reuse.
        expect((await refresh(client, first.refresh_token)).status).toBe(200);
        expectOAuthError(await refresh(client, pair.refresh_token), 400, "invalid_grant");
      },
    };

    for (const [kind, make] of Object.entries(kinds)) {
      for (const [end, cut] of Object.entries(ends)) {
        it(`a ${kind} cut by ${end} gets 400 invalid_grant for its dead refresh token and signs in again with the same client_id`, async () => {
          const client = await make();
          const pair = await signInWith(client);
          await cut(client, pair);
          expect(await mcpStatusAfterRevocation(base, pair.access_token)).toBe(401);
          expectOAuthError(await refresh(client, pair.refresh_token), 400, "invalid_grant");
          const again = await signInWith(client);
          expect(again.refresh_token).not.toBe(pair.refresh_token);
          expect((await refresh(client, again.refresh_token)).status).toBe(200);
        });
      }
    }

    it("an unknown refresh token from a known client is 400 invalid_grant, also for a metadata-document client", async () => {
      for (const make of Object.values(kinds)) {
        const client = await make();
        await signInWith(client);
        expectOAuthError(await refresh(client, "ghr_thisTokenWasNeverIssued"), 400, "invalid_grant");
      }
    });

    it("one user's Disconnect does not break another user's pending sign-in with the same shared public client", async () => {
      await server.addUser("bob@example.com", PASSWORD);
      const bob = await signIn(base, "bob@example.com", PASSWORD);
      const metadata = { client_name: `Shared ${driver}`, redirect_uris: ["http://127.0.0.1:7779/cb"], token_endpoint_auth_method: "none" };
      const shared = await registerClient(base, metadata);
      expect((await registerClient(base, metadata)).client_id, "identical public registrations share one client_id").toBe(shared.client_id);
      const { verifier, challenge } = pkce();
      const consent = await openAuthorize(base, bob, {
        response_type: "code", client_id: shared.client_id, redirect_uri: shared.redirect_uris[0]!, code_challenge: challenge,
        code_challenge_method: "S256", state: "b", resource: `${base}/mcp`,
      });
      expect(consent.status).toBe(200);
      const fields = formFields(await consent.text(), "/oauth/authorize");

      const alicePair = await signInWith({ ...shared, auth: {} });
      await ends["Disconnect on /user"]!({ ...shared, auth: {} }, alicePair);
      expect(await mcpStatusAfterRevocation(base, alicePair.access_token)).toBe(401);

      const decided = await postDecision(base, bob, { ...fields, decision: "approve" });
      const code = new URL(decided.headers.get("location")!).searchParams.get("code")!;
      const tokens = await tokenRequest(base, {
        grant_type: "authorization_code", code, code_verifier: verifier, client_id: shared.client_id, redirect_uri: shared.redirect_uris[0]!,
      });
      expect(tokens.status, JSON.stringify(tokens.body)).toBe(200);
      expect(await mcpBearerStatus(base, tokens.body.access_token!)).not.toBe(401);
    });
  });
}
