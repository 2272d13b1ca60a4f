/**
 * /admin and the admin role (issue 11): only admins see it; disabling an
 * account ends every token of it on every node within 1 s, refuses its
 * sign-in, authorization and API keys; enabling lets it sign in again;
 * removing a client ends its connections and its registration.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createUser } from "../../src/accounts/users.js";
import { drivers } from "../helpers/databases.js";
import {
  CookieJar, connect, formFields, mcpBearerStatus, mcpBearerStatusOnNode, mcpStatusAfterRevocation, mcpStatusAfterRevocationOnNode,
  openAuthorize, pkce, refreshGrant, expectOAuthError, signIn, visibleText, registerClient, authorizeForCode, postForm,
} from "../helpers/oauth.js";
import { PASSWORD, expectPageHeaders, get, submit } from "../helpers/console.js";
import { startTestServer, type TestServer } from "../helpers/server.js";

/** The login form's answer, without following it. */
async function tryLogin(base: string, email: string, password: string) {
  const jar = new CookieJar();
  const page = await fetch(`${base}/login`);
  jar.absorb(page);
  const fields = formFields(await page.text(), "/login");
  const response = await fetch(`${base}/login`, {
    method: "POST",
    redirect: "manual",
    headers: { "content-type": "application/x-www-form-urlencoded", cookie: jar.header() },
    body: new URLSearchParams({ ...fields, email, password }),
  });
  return { status: response.status, text: visibleText(await response.text()) };
}

for (const driver of drivers()) {
  describe(`/admin (${driver})`, () => {
    let server: TestServer;
    let base: string;
    let admin: CookieJar;
    beforeAll(async () => {
      server = await startTestServer(driver);
      base = server.base;
      await createUser(server.testDb.database.db, { email: "admin@example.com", password: PASSWORD, role: "admin" });
      await server.addUser("alice@example.com", PASSWORD);
      await server.addUser("bob@example.com", PASSWORD);
      admin = await signIn(base, "admin@example.com", PASSWORD);
    });
    afterAll(async () => server?.close());

    const adminPage = async () => {
      const response = await get(base, "/admin", admin);
      expect(response.status).toBe(200);
      return response.text();
    };
    /** The hidden fields of the form posting to `action` on the admin's /admin page. */
    const formOn = async (action: string) => formFields(await adminPage(), action);
    const userIdOf = async (email: string) => (await server.running.gatehouse.users.find(email))!.id;

    it("sends a signed-out browser to sign in, and answers 403 to an account that is not an admin", async () => {
      const signedOut = await get(base, "/admin", null);
      expect(signedOut.status).toBe(303);
      expect(signedOut.headers.get("location")).toBe("/login?return_to=%2Fadmin");
      const bob = await signIn(base, "bob@example.com", PASSWORD);
      const refused = await get(base, "/admin", bob);
      expect(refused.status).toBe(403);
      expectPageHeaders(refused.headers, "403");
      const bobId = await userIdOf("alice@example.com");
      const post = await submit(base, `/admin/users/${bobId}/disable`, bob, { csrf_token: "x" });
      expect(post.status).toBe(403);
      expect((await server.running.gatehouse.users.find("alice@example.com"))!.disabled).toBe(false);
    });

    it("lists accounts with role, state, connections and last use, and registered clients", async () => {
      const alice = await signIn(base, "alice@example.com", PASSWORD);
      const { client, tokens } = await connect(base, alice, await registerClient(base, { client_name: "Listed App", redirect_uris: ["https://listed.example/cb"] }));
      expect(await mcpBearerStatus(base, tokens.access_token)).not.toBe(401);
      const response = await get(base, "/admin", admin);
      expectPageHeaders(response.headers, "/admin");
      const text = visibleText(await response.text());
      expect(text).toContain("admin@example.com admin");
      expect(text).toMatch(/alice@example\.com Listed App · [^·]+\( ?mcp ?\) · created [^·]+ · last used [^·]+ active 1/);
      expect(text).toMatch(/bob@example\.com active 0 never/);
      expect(text).toContain(`${client.client_id} Listed App dcr`);
    });

    it("refuses an action without its CSRF token", async () => {
      const id = await userIdOf("bob@example.com");
      const response = await submit(base, `/admin/users/${id}/disable`, admin, {});
      expect(response.status).toBe(403);
      const removal = await submit(base, "/admin/clients/remove", admin, { client_id: "nope" });
      expect(removal.status).toBe(403);
      expect((await server.running.gatehouse.users.find("bob@example.com"))!.disabled).toBe(false);
    });

    it("disable: every token answers 401, refresh is invalid_grant, API keys, sign-in and authorize are refused; enable lets sign-in back", async () => {
      const alice = await signIn(base, "alice@example.com", PASSWORD);
      const first = await connect(base, alice, await registerClient(base, { client_name: "First" }));
      const second = await connect(base, alice, await registerClient(base, { client_name: "Second" }));
      // Consent given before the account is disabled, redeemed after: no connection comes of it.
      const pending = await registerClient(base, { client_name: "Pending" });
      const early = await authorizeForCode(base, alice, pending);
      const { token: apiKey } = await server.running.services.apiKeys.create(await userIdOf("alice@example.com"), "script");
      for (const t of [first, second]) expect(await mcpBearerStatus(base, t.tokens.access_token)).not.toBe(401);
      expect((await fetch(`${base}/api/tokens`, { headers: { authorization: `Bearer ${apiKey}` } })).status).toBe(200);

      const id = await userIdOf("alice@example.com");
      const fields = await formOn(`/admin/users/${id}/disable`);
      const response = await submit(base, `/admin/users/${id}/disable`, admin, fields);
      expect(response.status).toBe(303);
      expect(response.headers.get("location")).toBe("/admin");

      for (const t of [first, second]) {
        expect(await mcpStatusAfterRevocation(base, t.tokens.access_token)).toBe(401);
        expectOAuthError(await refreshGrant(base, t.client.client_id, t.tokens.refresh_token), 400, "invalid_grant");
      }
      expect((await fetch(`${base}/api/tokens`, { headers: { authorization: `Bearer ${apiKey}` } })).status).toBe(401);
      const redeemed = await postForm(`${base}/oauth/token`, {
        grant_type: "authorization_code", code: early.code, code_verifier: early.verifier, client_id: pending.client_id, redirect_uri: early.redirectUri,
      });
      expectOAuthError(redeemed, 400, "invalid_grant");
      // The console session ended: /user and /oauth/authorize send the browser to sign in.
      expect((await get(base, "/user", alice)).status).toBe(303);
      const authorize = await openAuthorize(base, alice, {
        response_type: "code", client_id: first.client.client_id, redirect_uri: first.client.redirect_uris[0]!,
        code_challenge: pkce().challenge, code_challenge_method: "S256", state: "s",
      });
      expect(authorize.status).not.toBe(200);
      expect(authorize.headers.get("location") ?? "").toMatch(/^\/login\b/);
      const login = await tryLogin(base, "alice@example.com", PASSWORD);
      expect(login.status).toBe(403);
      expect(login.text).toContain("This account is disabled.");
      // Nobody without the password learns that the account exists.
      const guess = await tryLogin(base, "alice@example.com", "wrong password!");
      expect(guess.status).toBe(401);
      expect(guess.text).not.toContain("disabled");
      expect(visibleText(await adminPage())).toMatch(/alice@example\.com disabled 0/);

      const enable = await submit(base, `/admin/users/${id}/enable`, admin, await formOn(`/admin/users/${id}/enable`));
      expect(enable.status).toBe(303);
      const again = await signIn(base, "alice@example.com", PASSWORD);
      expect((await get(base, "/user", again)).status).toBe(200);
      expect(await mcpBearerStatus(base, first.tokens.access_token)).toBe(401);
    });

    it("remove client: its tokens answer 401 and authorize says Unknown application", async () => {
      const bob = await signIn(base, "bob@example.com", PASSWORD);
      const { client, tokens } = await connect(base, bob);
      expect(await mcpBearerStatus(base, tokens.access_token)).not.toBe(401);
      const adminHtml = await adminPage();
      const start = adminHtml.indexOf(`data-client="${client.client_id}"`);
      const fields = formFields(adminHtml.slice(start), "/admin/clients/remove");
      expect(fields.client_id).toBe(client.client_id);
      const response = await submit(base, "/admin/clients/remove", admin, fields);
      expect(response.status).toBe(303);
      expect(await mcpStatusAfterRevocation(base, tokens.access_token)).toBe(401);
      const page = await openAuthorize(base, bob, {
        response_type: "code", client_id: client.client_id, redirect_uri: client.redirect_uris[0]!,
        code_challenge: pkce().challenge, code_challenge_method: "S256", state: "s",
      });
      expect(page.status).toBe(400);
      expect(visibleText(await page.text())).toContain("Unknown application");
      expect(await adminPage()).not.toContain(`data-client="${client.client_id}"`);
    });

    // The done-when: disabling from /admin makes every token of the user answer 401 on every node within 1 s.
    if (driver === "postgres") {
      describe("two nodes on one database", () => {
        let nodeB: TestServer;
        beforeAll(async () => {
          nodeB = await startTestServer(driver, { testDb: server.testDb, config: { publicUrl: server.base } });
        });
        afterAll(async () => nodeB?.close());

        it("disabling on one node makes the user's tokens answer 401 on the other within 1 s", async () => {
          await createUser(server.testDb.database.db, { email: "carol@example.com", password: PASSWORD });
          const carol = await signIn(base, "carol@example.com", PASSWORD);
          const connections = [
            await connect(base, carol, await registerClient(base, { client_name: "Carol One" })),
            await connect(base, carol, await registerClient(base, { client_name: "Carol Two" })),
          ];
          // Each token is verified, and so cached, on the other node first.
          for (const c of connections) expect(await mcpBearerStatusOnNode(nodeB.running.url, base, c.tokens.access_token)).not.toBe(401);
          const id = await userIdOf("carol@example.com");
          const response = await submit(base, `/admin/users/${id}/disable`, admin, await formOn(`/admin/users/${id}/disable`));
          expect(response.status).toBe(303);
          for (const c of connections) {
            expect(await mcpStatusAfterRevocationOnNode(nodeB.running.url, base, c.tokens.access_token)).toBe(401);
            expect(await mcpBearerStatus(base, c.tokens.access_token)).toBe(401);
          }
        });
      });
    }
  });
}
