/**
 * The console under a path prefix (issue 11, point 3): with consolePath
 * "/gatehouse" every console route, link, form action, redirect, setup link,
 * path-scoped cookie and the OIDC callback is under /gatehouse; /mcp,
 * /oauth/* and /.well-known/* stay at the root; the console's paths at the
 * root answer 404, so an embedding app can own them.
 */
import { serve, type ServerType } from "@hono/node-server";
import { Hono } from "hono";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createUser, listUsers } from "../../src/accounts/users.js";
import { ConfigError, loadConfig } from "../../src/config.js";
import { createGatehouse, type Gatehouse } from "../../src/gatehouse.js";
import { host } from "../../src/identity/host.js";
import { silentLogger } from "../../src/logger.js";
import { startServer, type RunningServer } from "../../src/server.js";
import { unlimited } from "../../src/storage/rate-limit.js";
import { cookieHeader, PASSWORD } from "../helpers/console.js";
import { createTestDatabase, drivers, type TestDatabase } from "../helpers/databases.js";
import { modernRpc } from "../helpers/mcp.js";
import { CookieJar, formFields, openAuthorize, pkce, registerClient, tokenRequest, visibleText } from "../helpers/oauth.js";
import { startTestIdp, type TestIdp } from "../helpers/oidc-provider.js";
import { freePort, startTestServer, type TestServer } from "../helpers/server.js";

const PREFIX = "/gatehouse";
const ROOT_CONSOLE_PATHS = ["/", "/login", "/logout", "/user", "/admin", "/setup?token=x", "/api/me", "/api/tokens", "/login/oidc/callback"];

/** Every URL a page links to or posts to: `href`, `action` and `src` values, entities decoded. */
function urlsIn(html: string): string[] {
  return [...html.matchAll(/\s(?:href|action|src)="([^"]*)"/g)].map((m) => m[1]!.replace(/&amp;/g, "&"));
}

/** A console URL (link, action, Location or return_to): a same-origin path under the prefix. */
function expectUnderPrefix(url: string, label: string, allowed: string[] = []): void {
  if (allowed.includes(url)) return;
  expect(url, label).toMatch(new RegExp(`^${PREFIX}(/|$)`));
  const returnTo = new URL(url, "http://x").searchParams.get("return_to");
  if (returnTo !== null && !returnTo.startsWith("/oauth/authorize?")) expect(returnTo, `${label} return_to`).toMatch(new RegExp(`^${PREFIX}/`));
}

function expectPageUnderPrefix(html: string, label: string, allowed: string[] = []): void {
  const urls = urlsIn(html);
  expect(urls.length, label).toBeGreaterThan(0);
  for (const url of urls) expectUnderPrefix(url, `${label}: ${url}`, allowed);
}

async function browse(base: string, path: string, jar: CookieJar | null, init: RequestInit = {}): Promise<Response> {
  const response = await fetch(`${base}${path}`, { redirect: "manual", ...init, headers: { ...cookieHeader(jar), ...(init.headers as Record<string, string>) } });
  jar?.absorb(response);
  return response;
}

function post(base: string, path: string, jar: CookieJar | null, fields: Record<string, string>): Promise<Response> {
  return browse(base, path, jar, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: new URLSearchParams(fields) });
}

for (const driver of drivers()) {
  describe(`console under ${PREFIX} (${driver})`, () => {
    let testDb: TestDatabase;
    let running: RunningServer;
    let base: string;
    let startLink = "";
    let admin: CookieJar;
    beforeAll(async () => {
      testDb = await createTestDatabase(driver);
      const port = await freePort();
      base = `http://127.0.0.1:${port}`;
      running = await startServer({
        config: loadConfig({ GATEHOUSE_CONSOLE_PATH: PREFIX }, { port, host: "127.0.0.1", publicUrl: base }),
        logger: silentLogger,
        database: testDb.database,
        onSetupLink: (url) => (startLink = url),
        drainMs: 200,
        appDeps: { rateLimits: { register: unlimited, loginByIp: unlimited, loginByIpAccount: unlimited, loginByAccount: unlimited } },
      });
    });
    afterAll(async () => {
      await running?.close();
      await testDb?.cleanup();
    });

    it("the first-account link printed at start is under the prefix: its form, cookie Path and redirect too; the first account is made", async () => {
      expect(startLink.startsWith(`${base}${PREFIX}/setup?token=`)).toBe(true);
      const token = new URL(startLink).searchParams.get("token")!;
      expect((await browse(base, `/setup?token=${token}`, null)).status).toBe(404);

      admin = new CookieJar();
      const form = await browse(base, `${PREFIX}/setup?token=${token}`, admin);
      expect(form.status).toBe(200);
      // On http the setup CSRF cookie is path-scoped: to the setup page under the prefix.
      const csrfCookie = form.headers.getSetCookie().find((c) => c.startsWith("gh_setup_csrf="));
      expect(csrfCookie).toMatch(new RegExp(`;\\s*Path=${PREFIX}/setup(;|$)`, "i"));
      const html = await form.text();
      expectPageUnderPrefix(html, "setup page");
      const created = await post(base, `${PREFIX}/setup`, admin, { ...formFields(html, `${PREFIX}/setup`), email: "admin@example.com", password: PASSWORD });
      expect(created.status).toBe(303);
      expect(created.headers.get("location")).toBe(`${PREFIX}/user`);
      // The console session serves /oauth/authorize as well: it stays at Path=/.
      expect(created.headers.getSetCookie().find((c) => c.startsWith("gh_session="))).toMatch(/;\s*Path=\/(;|$)/i);
      expect((await listUsers(testDb.database.db)).map((u) => [u.email, u.role])).toEqual([["admin@example.com", "admin"]]);
    });

    it("gatehouse.users.setupLink gives a set-password link under the prefix that works", async () => {
      await running.gatehouse.users.create({ email: "carol@example.com" });
      const link = await running.gatehouse.users.setupLink({ email: "carol@example.com" });
      expect(link.startsWith(`${base}${PREFIX}/setup?token=`)).toBe(true);
      const jar = new CookieJar();
      const form = await browse(base, new URL(link).pathname + new URL(link).search, jar);
      expect(form.status).toBe(200);
      const set = await post(base, `${PREFIX}/setup`, jar, { ...formFields(await form.text(), `${PREFIX}/setup`), password: PASSWORD });
      expect(set.status).toBe(303);
      expect(set.headers.get("location")).toBe(`${PREFIX}/user`);
      expect((await browse(base, `${PREFIX}/user`, jar)).status).toBe(200);
    });

    it("authorize → /gatehouse/login → sign in → consent → code → token → /mcp; /gatehouse/user lists the connection", async () => {
      await createUser(testDb.database.db, { email: "bob@example.com", password: PASSWORD });
      const client = await registerClient(base);
      const { verifier, challenge } = pkce();
      const params = {
        response_type: "code", client_id: client.client_id, redirect_uri: client.redirect_uris[0]!,
        code_challenge: challenge, code_challenge_method: "S256", state: "st", resource: `${base}/mcp`,
      };
      const signedOut = await openAuthorize(base, null, params);
      expect([302, 303]).toContain(signedOut.status);
      const toLogin = new URL(signedOut.headers.get("location")!, base);
      expect(toLogin.origin).toBe(base);
      expect(toLogin.pathname).toBe(`${PREFIX}/login`);
      const returnTo = toLogin.searchParams.get("return_to")!;
      expect(returnTo.startsWith("/oauth/authorize?")).toBe(true);

      const jar = new CookieJar();
      const loginPage = await browse(base, toLogin.pathname + toLogin.search, jar);
      expect(loginPage.status).toBe(200);
      const loginHtml = await loginPage.text();
      expectPageUnderPrefix(loginHtml, "login page");
      const signedIn = await post(base, `${PREFIX}/login`, jar, { ...formFields(loginHtml, `${PREFIX}/login`), email: "bob@example.com", password: PASSWORD });
      expect(signedIn.status).toBe(303);
      expect(signedIn.headers.get("location")).toBe(returnTo);

      const consent = await browse(base, returnTo, jar);
      expect(consent.status).toBe(200);
      const consentHtml = await consent.text();
      // The decision posts to the authorization endpoint, which does not move; sign-out is the console's.
      expectPageUnderPrefix(consentHtml, "consent page", ["/oauth/authorize"]);
      expect(consentHtml).toContain(`action="${PREFIX}/logout"`);
      const decided = await post(base, "/oauth/authorize", jar, { ...formFields(consentHtml, "/oauth/authorize"), decision: "approve" });
      expect(decided.status).toBe(303);
      const code = new URL(decided.headers.get("location")!).searchParams.get("code")!;
      const tokens = await tokenRequest(base, {
        grant_type: "authorization_code", code, code_verifier: verifier, client_id: client.client_id,
        redirect_uri: client.redirect_uris[0]!, resource: `${base}/mcp`,
      });
      expect(tokens.status).toBe(200);
      const whoami = await modernRpc(base, tokens.body.access_token!, "tools/call", { name: "whoami", arguments: {} });
      expect(whoami.status).toBe(200);
      expect(JSON.stringify(whoami.message?.result)).toContain("bob@example.com");

      const list = await browse(base, `${PREFIX}/api/tokens`, jar);
      expect(list.status).toBe(200);
      const [connection] = ((await list.json()) as { tokens: { id: string; kind: string }[] }).tokens.filter((t) => t.kind === "mcp");
      const userPage = await browse(base, `${PREFIX}/user`, jar);
      expect(userPage.status).toBe(200);
      const userHtml = await userPage.text();
      expect(userHtml).toContain(`action="${PREFIX}/user/tokens/${connection!.id}/delete"`);
      expect(visibleText(userHtml)).toContain("Test Client");

      // Disconnect from the page: back to the page under the prefix, and the token stops working.
      const disconnect = await post(base, `${PREFIX}/user/tokens/${connection!.id}/delete`, jar, formFields(userHtml, `${PREFIX}/user/tokens/${connection!.id}/delete`));
      expect(disconnect.status).toBe(303);
      expect(disconnect.headers.get("location")).toBe(`${PREFIX}/user`);
      expect((await modernRpc(base, tokens.body.access_token!, "tools/call", { name: "whoami", arguments: {} })).status).toBe(401);
    });

    it("/gatehouse/api/tokens works with a personal API key; /api at the root is not there", async () => {
      const me = await browse(base, `${PREFIX}/api/me`, admin);
      expect(me.status).toBe(200);
      const { csrf_token } = (await me.json()) as { csrf_token: string };
      const created = await browse(base, `${PREFIX}/api/tokens`, admin, {
        method: "POST",
        headers: { "content-type": "application/json", "x-csrf-token": csrf_token },
        body: JSON.stringify({ name: "ci" }),
      });
      expect(created.status).toBe(201);
      const { token, id } = (await created.json()) as { token: string; id: string };
      const bearer = { authorization: `Bearer ${token}` };
      const listed = await browse(base, `${PREFIX}/api/tokens`, null, { headers: bearer });
      expect(listed.status).toBe(200);
      expect(((await listed.json()) as { tokens: { id: string }[] }).tokens.map((t) => t.id)).toContain(id);
      expect((await browse(base, "/api/tokens", null, { headers: bearer })).status).toBe(404);
      expect((await browse(base, `${PREFIX}/api/tokens/${id}`, null, { method: "DELETE", headers: bearer })).status).toBe(204);
    });

    it("the console's paths at the root answer 404; /mcp, /oauth, /.well-known and the probes stay where they are", async () => {
      for (const path of ROOT_CONSOLE_PATHS) {
        const response = await browse(base, path, admin);
        expect(response.status, `GET ${path}`).toBe(404);
      }
      for (const path of ["/login", "/logout", "/setup", "/user/tokens"]) {
        expect((await post(base, path, admin, {})).status, `POST ${path}`).toBe(404);
      }
      const metadata = await browse(base, "/.well-known/oauth-authorization-server", null);
      expect(metadata.status).toBe(200);
      const as = (await metadata.json()) as Record<string, string>;
      expect(as.issuer).toBe(base);
      expect(as.authorization_endpoint).toBe(`${base}/oauth/authorize`);
      expect(as.token_endpoint).toBe(`${base}/oauth/token`);
      expect(as.registration_endpoint).toBe(`${base}/oauth/register`);
      expect((await browse(base, "/.well-known/oauth-protected-resource/mcp", null)).status).toBe(200);
      expect((await browse(base, "/healthz", null)).status).toBe(200);
      expect((await browse(base, "/mcp", null, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" })).status).toBe(401);
      for (const path of [`${PREFIX}/mcp`, `${PREFIX}/oauth/token`, `${PREFIX}/.well-known/oauth-authorization-server`]) {
        expect((await browse(base, path, null)).status, path).toBe(404);
      }
    });

    it("every href, form action and redirect of the console points under the prefix", async () => {
      for (const path of [PREFIX, `${PREFIX}/`]) {
        const index = await browse(base, path, admin);
        expect(index.status, path).toBe(302);
        expect(index.headers.get("location")).toBe(`${PREFIX}/user`);
      }
      const signedOutRedirects: [string, string][] = [
        [`${PREFIX}/user`, `${PREFIX}/login?return_to=${encodeURIComponent(`${PREFIX}/user`)}`],
        [`${PREFIX}/admin`, `${PREFIX}/login?return_to=${encodeURIComponent(`${PREFIX}/admin`)}`],
      ];
      for (const [path, location] of signedOutRedirects) {
        const response = await browse(base, path, null);
        expect(response.status, path).toBe(303);
        expect(response.headers.get("location"), path).toBe(location);
      }
      // Signed in, /login goes on to /user under the prefix.
      const again = await browse(base, `${PREFIX}/login`, admin);
      expect(again.status).toBe(303);
      expect(again.headers.get("location")).toBe(`${PREFIX}/user`);

      // /user with a key just created (the form, its redirect, the page that shows the key once).
      const userHtml = await (await browse(base, `${PREFIX}/user`, admin)).text();
      expectPageUnderPrefix(userHtml, "user page");
      const create = await post(base, `${PREFIX}/user/tokens`, admin, { ...formFields(userHtml, `${PREFIX}/user/tokens`), name: "laptop" });
      expect(create.status).toBe(303);
      expectUnderPrefix(create.headers.get("location")!, "create key Location");
      const withKey = await (await browse(base, `${PREFIX}/user`, admin)).text();
      expect(withKey).toContain("ghk_");
      expectPageUnderPrefix(withKey, "user page with a key and its delete form");

      // /admin: every account and client with their action forms, and each action's redirect.
      const adminPage = await browse(base, `${PREFIX}/admin`, admin);
      expect(adminPage.status).toBe(200);
      const adminHtml = await adminPage.text();
      expectPageUnderPrefix(adminHtml, "admin page");
      const bob = (await listUsers(testDb.database.db)).find((u) => u.email === "bob@example.com")!;
      const disable = `${PREFIX}/admin/users/${bob.id}/disable`;
      expect(adminHtml).toContain(`action="${disable}"`);
      const disabled = await post(base, disable, admin, formFields(adminHtml, disable));
      expect(disabled.status).toBe(303);
      expect(disabled.headers.get("location")).toBe(`${PREFIX}/admin`);
      const enableHtml = await (await browse(base, `${PREFIX}/admin`, admin)).text();
      const enable = `${PREFIX}/admin/users/${bob.id}/enable`;
      const enabled = await post(base, enable, admin, formFields(enableHtml, enable));
      expect(enabled.headers.get("location")).toBe(`${PREFIX}/admin`);
      const { client_id } = await registerClient(base);
      const removeHtml = await (await browse(base, `${PREFIX}/admin`, admin)).text();
      expect(removeHtml).toContain(client_id);
      const remove = await post(base, `${PREFIX}/admin/clients/remove`, admin, { ...formFields(removeHtml, `${PREFIX}/admin/clients/remove`), client_id });
      expect(remove.status).toBe(303);
      expect(remove.headers.get("location")).toBe(`${PREFIX}/admin`);

      // Sign-out: back to sign-in under the prefix, coming back to /user under it.
      const signOut = await post(base, `${PREFIX}/logout`, admin, formFields(withKey, `${PREFIX}/logout`));
      expect(signOut.status).toBe(303);
      expect(signOut.headers.get("location")).toBe(`${PREFIX}/login?return_to=${encodeURIComponent(`${PREFIX}/user`)}`);
      expect((await browse(base, `${PREFIX}/user`, admin)).status).toBe(303);
    });

    it("an embedder's consolePath is checked like the variable: a reserved or malformed one stops start-up naming consolePath", async () => {
      for (const consolePath of ["/oauth", "/gatehouse/", "gatehouse", "/a/../b"]) {
        const started = startServer({
          config: loadConfig({}, { port: 0, host: "127.0.0.1", publicUrl: base }),
          logger: silentLogger,
          database: testDb.database,
          gatehouse: { consolePath },
        });
        const error = await started.then(
          () => null,
          (e: unknown) => e,
        );
        expect(error, consolePath).toBeInstanceOf(ConfigError);
        expect((error as ConfigError).variable).toBe("consolePath");
      }
    });
  });

  describe(`an embedding app keeps its own /login, Gatehouse's console under ${PREFIX} (${driver})`, () => {
    let testDb: TestDatabase;
    let gatehouse: Gatehouse;
    let server: ServerType;
    let base: string;
    beforeAll(async () => {
      testDb = await createTestDatabase(driver);
      const port = await freePort();
      base = `http://127.0.0.1:${port}`;
      gatehouse = await createGatehouse({
        config: loadConfig({}, { port, host: "127.0.0.1", publicUrl: base }),
        consolePath: PREFIX,
        database: testDb.database,
        logger: silentLogger,
        identity: host({ currentUser: () => null, signInUrl: (returnTo) => `/login?next=${encodeURIComponent(returnTo)}` }),
      });
      const app = new Hono();
      app.get("/login", (c) => c.text("the host's sign-in page"));
      app.get("/user", (c) => c.text("the host's user page"));
      app.route("/", gatehouse.app);
      app.notFound((c) => c.text("host 404", 404));
      server = serve({ fetch: app.fetch, port, hostname: "127.0.0.1" });
    });
    afterAll(async () => {
      await new Promise((resolve) => server?.close(resolve));
      await gatehouse?.close();
      await testDb?.cleanup();
    });

    it("the host's /login and /user are the host's; Gatehouse's sign-in redirects carry return_to paths under the prefix", async () => {
      expect(await (await browse(base, "/login", null)).text()).toBe("the host's sign-in page");
      expect(await (await browse(base, "/user", null)).text()).toBe("the host's user page");
      const user = await browse(base, `${PREFIX}/user`, null);
      expect(user.status).toBe(303);
      const login = user.headers.get("location")!;
      expect(login).toBe(`${PREFIX}/login?return_to=${encodeURIComponent(`${PREFIX}/user`)}`);
      const toHost = await browse(base, login, null);
      expect(toHost.status).toBe(303);
      expect(toHost.headers.get("location")).toBe(`/login?next=${encodeURIComponent(`${PREFIX}/user`)}`);
      // No passwords with the host's sign-in: no setup page, under the prefix or not.
      expect((await browse(base, `${PREFIX}/setup?token=x`, null)).status).toBe(404);
    });
  });

  describe(`OpenID Connect sign-in under ${PREFIX} (${driver})`, () => {
    let idp: TestIdp;
    let server: TestServer;
    let base: string;
    beforeAll(async () => {
      const port = await freePort();
      base = `http://127.0.0.1:${port}`;
      idp = await startTestIdp({ redirectUris: [`${base}${PREFIX}/login/oidc/callback`] });
      server = await startTestServer(driver, {
        config: {
          port, publicUrl: base, consolePath: PREFIX,
          oidc: { issuer: idp.issuer, clientId: idp.clientId, clientSecret: idp.clientSecret, allowedDomains: [], groupsClaim: "groups", allowedGroups: [] },
        },
      });
    });
    afterAll(async () => {
      await server?.close();
      await idp?.close();
    });

    it("the redirect URI is the callback under the prefix; sign-in and sign-out stay under it", async () => {
      const jar = new CookieJar();
      const start = await browse(base, `${PREFIX}/login?return_to=${encodeURIComponent(`${PREFIX}/user`)}`, jar);
      expect(start.status).toBe(303);
      const authorization = new URL(start.headers.get("location")!);
      expect(authorization.searchParams.get("redirect_uri")).toBe(`${base}${PREFIX}/login/oidc/callback`);
      const callback = await idp.signIn(authorization.href, "ada");
      expect(callback.href.startsWith(`${base}${PREFIX}/login/oidc/callback?`)).toBe(true);
      expect((await browse(base, `/login/oidc/callback${callback.search}`, jar)).status).toBe(404);
      const back = await browse(base, callback.pathname + callback.search, jar);
      expect(back.status).toBe(303);
      expect(back.headers.get("location")).toBe(`${PREFIX}/user`);
      const userHtml = await (await browse(base, `${PREFIX}/user`, jar)).text();
      expect(visibleText(userHtml)).toContain("ada@example.com");

      const signOut = await post(base, `${PREFIX}/logout`, jar, formFields(userHtml, `${PREFIX}/logout`));
      expect(signOut.status).toBe(303);
      expect(signOut.headers.get("location")).toBe(`${PREFIX}/login/oidc/signed-out`);
      const signedOut = await browse(base, `${PREFIX}/login/oidc/signed-out`, jar);
      expect(signedOut.status).toBe(200);
      expectPageUnderPrefix(await signedOut.text(), "signed-out page");
    });
  });
}
