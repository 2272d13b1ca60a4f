/**
 * Interop with a client library we did not write: oauth4webapi (v3), which is
 * strict about RFC 8414 (issuer equality), PKCE, RFC 9207 (`iss` in the
 * authorization response), token-response shape and RFC 7009. It walks the
 * whole life of a connection against a real Gatehouse over HTTP: discovery,
 * registration, authorization with consent answered by a signed-in browser,
 * code exchange, refresh rotation and revocation — once as a public client
 * and once as a confidential one.
 */
import * as oauth from "oauth4webapi";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { drivers } from "../helpers/databases.js";
import { consentAt, signIn, type CookieJar } from "../helpers/oauth.js";
import { startTestServer, type TestServer } from "../helpers/server.js";

// The test server's issuer is http://127.0.0.1:PORT; oauth4webapi refuses non-TLS endpoints by default.
const insecure = { [oauth.allowInsecureRequests]: true } as const;
const REDIRECT_URI = "http://127.0.0.1:9999/callback";

/** An MCP request with the token as bearer, through oauth4webapi's own resource-request code. */
async function callMcp(base: string, accessToken: string): Promise<Response> {
  const headers = new Headers({
    "content-type": "application/json",
    accept: "application/json, text/event-stream",
    "mcp-protocol-version": "2025-11-25",
  });
  const body = JSON.stringify({
    jsonrpc: "2.0",
    id: 1,
    method: "initialize",
    params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "oauth4webapi-interop", version: "1.0.0" } },
  });
  const response = await oauth.protectedResourceRequest(accessToken, "POST", new URL(`${base}/mcp`), headers, body, insecure);
  await response.body?.cancel();
  return response;
}

/** The 401 challenge /mcp sends for a token that no longer works, as oauth4webapi parses it. */
async function mcpChallenge(base: string, accessToken: string): Promise<oauth.WWWAuthenticateChallengeError> {
  const error = await callMcp(base, accessToken).then(
    (response) => new Error(`expected a 401 challenge, got ${response.status}`),
    (error: unknown) => error,
  );
  if (!(error instanceof oauth.WWWAuthenticateChallengeError)) throw error;
  return error;
}

/**
 * A refresh that must fail, as an RFC 6749 §5.2 error. oauth4webapi raises a
 * WWWAuthenticateChallengeError (before reading the body) for a 401 with a
 * Basic challenge, and a ResponseBodyError otherwise.
 */
async function refreshFails(as: oauth.AuthorizationServer, client: oauth.Client, auth: oauth.ClientAuth, refreshToken: string) {
  const response = await oauth.refreshTokenGrantRequest(as, client, auth, refreshToken, insecure);
  const error = await oauth.processRefreshTokenResponse(as, client, response).then(
    () => new Error("a refresh with a revoked token succeeded"),
    (error: unknown) => error,
  );
  if (error instanceof oauth.ResponseBodyError) return { status: error.status, error: error.error };
  if (error instanceof oauth.WWWAuthenticateChallengeError) {
    const body = (await error.response.json()) as { error?: string };
    return { status: error.status, error: body.error };
  }
  throw error;
}

for (const driver of drivers()) {
  describe(`oauth4webapi against Gatehouse (${driver})`, () => {
    let server: TestServer;
    let jar: CookieJar;
    let as: oauth.AuthorizationServer;

    beforeAll(async () => {
      server = await startTestServer(driver);
      await server.addUser("interop@example.com", "correct horse battery");
      jar = await signIn(server.base, "interop@example.com", "correct horse battery");
    });
    afterAll(async () => server?.close());

    it("discovers the protected resource and its authorization server (RFC 9728, RFC 8414)", async () => {
      const resource = new URL(`${server.base}/mcp`);
      const rs = await oauth.processResourceDiscoveryResponse(resource, await oauth.resourceDiscoveryRequest(resource, insecure));
      expect(rs.resource).toBe(`${server.base}/mcp`);
      expect(rs.authorization_servers).toEqual([server.base]);

      const issuer = new URL(rs.authorization_servers![0]!);
      // processDiscoveryResponse checks that `issuer` equals the identifier the document was fetched for.
      as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { algorithm: "oauth2", ...insecure }));
      expect(as.issuer).toBe(server.base);
      expect(as.code_challenge_methods_supported).toEqual(["S256"]);
      expect(as.authorization_response_iss_parameter_supported).toBe(true);
      expect(as.registration_endpoint).toBe(`${server.base}/oauth/register`);
      expect(as.revocation_endpoint).toBe(`${server.base}/oauth/revoke`);
    });

    const flows = [
      { kind: "public client (none)", method: "none" },
      { kind: "confidential client (client_secret_basic)", method: "client_secret_basic" },
    ] as const;

    for (const flow of flows) {
      it(`registers, authorizes, exchanges, rotates and revokes as a ${flow.kind}`, async () => {
        expect(as, "discovery ran first").toBeDefined();
        const resource = `${server.base}/mcp`;

        // RFC 7591 registration through the library.
        const registered = await oauth.processDynamicClientRegistrationResponse(
          await oauth.dynamicClientRegistrationRequest(
            as,
            {
              client_name: `oauth4webapi ${flow.method}`,
              redirect_uris: [REDIRECT_URI],
              grant_types: ["authorization_code", "refresh_token"],
              response_types: ["code"],
              token_endpoint_auth_method: flow.method,
            },
            insecure,
          ),
        );
        expect(registered.client_id).toEqual(expect.any(String));
        expect(registered.token_endpoint_auth_method).toBe(flow.method);
        const client: oauth.Client = { client_id: registered.client_id, token_endpoint_auth_method: flow.method };
        let auth: oauth.ClientAuth;
        if (flow.method === "none") {
          expect(registered.client_secret).toBeUndefined();
          auth = oauth.None();
        } else {
          expect(registered.client_secret).toEqual(expect.any(String));
          auth = oauth.ClientSecretBasic(registered.client_secret as string);
        }

        // Authorization request with PKCE S256 and the RFC 8707 resource.
        const codeVerifier = oauth.generateRandomCodeVerifier();
        const codeChallenge = await oauth.calculatePKCECodeChallenge(codeVerifier);
        const state = oauth.generateRandomState();
        const authorizationUrl = new URL(as.authorization_endpoint!);
        authorizationUrl.search = new URLSearchParams({
          response_type: "code",
          client_id: client.client_id,
          redirect_uri: REDIRECT_URI,
          code_challenge: codeChallenge,
          code_challenge_method: "S256",
          state,
          scope: "mcp",
          resource,
        }).toString();

        // The signed-in user approves; the browser would now be sent to the client's redirect URI.
        const callback = await consentAt(authorizationUrl, jar);
        expect(`${callback.origin}${callback.pathname}`).toBe(REDIRECT_URI);
        expect(callback.searchParams.get("iss")).toBe(server.base);

        // RFC 9207: validateAuthResponse requires `iss` (advertised) and compares it to the issuer; also checks state.
        const params = oauth.validateAuthResponse(as, client, callback, state);

        // Code exchange.
        const tokenResponse = await oauth.authorizationCodeGrantRequest(as, client, auth, params, REDIRECT_URI, codeVerifier, {
          additionalParameters: { resource },
          ...insecure,
        });
        expect(tokenResponse.headers.get("cache-control")).toBe("no-store");
        const tokens = await oauth.processAuthorizationCodeResponse(as, client, tokenResponse);
        expect(tokens.token_type).toBe("bearer"); // oauth4webapi lower-cases it
        expect(tokens.access_token).toEqual(expect.any(String));
        expect(tokens.refresh_token).toEqual(expect.any(String));
        expect(tokens.expires_in).toBeGreaterThan(0);
        expect(tokens.scope).toBe("mcp");
        expect((await callMcp(server.base, tokens.access_token)).status).not.toBe(401);

        // Refresh rotates: a new refresh token, and the new access token works at /mcp.
        const refreshed = await oauth.processRefreshTokenResponse(
          as,
          client,
          await oauth.refreshTokenGrantRequest(as, client, auth, tokens.refresh_token!, insecure),
        );
        expect(refreshed.refresh_token).toEqual(expect.any(String));
        expect(refreshed.refresh_token).not.toBe(tokens.refresh_token);
        expect(refreshed.access_token).not.toBe(tokens.access_token);
        expect((await callMcp(server.base, refreshed.access_token)).status).not.toBe(401);

        // RFC 7009: revoking the refresh token ends the connection.
        await oauth.processRevocationResponse(
          await oauth.revocationRequest(as, client, auth, refreshed.refresh_token!, {
            additionalParameters: { token_type_hint: "refresh_token" },
            ...insecure,
          }),
        );

        // The revoked refresh token is refused with invalid_grant (RFC 6749 §5.2): the registration stays
        // (PRODUCT §6), so the client is still known and may sign in again with the same client_id.
        const refreshError = await refreshFails(as, client, auth, refreshed.refresh_token!);
        expect(refreshError).toEqual({ status: 400, error: "invalid_grant" });

        // The connection's access token dies with it (PRODUCT §6: within 1 s on every node).
        let challenge: oauth.WWWAuthenticateChallengeError | undefined;
        const deadline = Date.now() + 1_000;
        while (!challenge) {
          try {
            challenge = await mcpChallenge(server.base, refreshed.access_token);
          } catch (error) {
            if (Date.now() > deadline) throw error;
            await new Promise((resolve) => setTimeout(resolve, 50));
          }
        }
        expect(challenge.status).toBe(401);
        const bearer = challenge.cause.find((c) => c.scheme === "bearer");
        expect(bearer?.parameters.error).toBe("invalid_token");
        expect(bearer?.parameters.resource_metadata).toBe(`${server.base}/.well-known/oauth-protected-resource/mcp`);
      });
    }

    it("revokes an access token alone with the access_token hint (confidential client)", async () => {
      const registered = await oauth.processDynamicClientRegistrationResponse(
        await oauth.dynamicClientRegistrationRequest(
          as,
          { redirect_uris: [REDIRECT_URI], token_endpoint_auth_method: "client_secret_basic" },
          insecure,
        ),
      );
      const client: oauth.Client = { client_id: registered.client_id, token_endpoint_auth_method: "client_secret_basic" };
      const auth = oauth.ClientSecretBasic(registered.client_secret as string);
      const codeVerifier = oauth.generateRandomCodeVerifier();
      const state = oauth.generateRandomState();
      const url = new URL(as.authorization_endpoint!);
      url.search = new URLSearchParams({
        response_type: "code",
        client_id: client.client_id,
        redirect_uri: REDIRECT_URI,
        code_challenge: await oauth.calculatePKCECodeChallenge(codeVerifier),
        code_challenge_method: "S256",
        state,
        resource: `${server.base}/mcp`,
      }).toString();
      const params = oauth.validateAuthResponse(as, client, await consentAt(url, jar), state);
      const tokens = await oauth.processAuthorizationCodeResponse(
        as,
        client,
        await oauth.authorizationCodeGrantRequest(as, client, auth, params, REDIRECT_URI, codeVerifier, {
          additionalParameters: { resource: `${server.base}/mcp` },
          ...insecure,
        }),
      );
      expect((await callMcp(server.base, tokens.access_token)).status).not.toBe(401);

      await oauth.processRevocationResponse(
        await oauth.revocationRequest(as, client, auth, tokens.access_token, {
          additionalParameters: { token_type_hint: "access_token" },
          ...insecure,
        }),
      );
      const challenge = await mcpChallenge(server.base, tokens.access_token);
      expect(challenge.status).toBe(401);

      // The connection itself lives on: its refresh token still rotates.
      const refreshed = await oauth.processRefreshTokenResponse(
        as,
        client,
        await oauth.refreshTokenGrantRequest(as, client, auth, tokens.refresh_token!, insecure),
      );
      expect((await callMcp(server.base, refreshed.access_token)).status).not.toBe(401);
    });
  });
}
