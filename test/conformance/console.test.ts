/**
 * The web console over HTTP (ISSUE 5; PRODUCT §5, §6; SPEC-CHECKLIST
 * AZ-16..AZ-19): sign-in and sign-out with server-side sessions,
 * `return_to`, the `/user` page (MCP connections and personal API keys,
 * deletable with CSRF-protected forms) and the console JSON API (`/api`).
 * Setup links are in console-setup.test.ts, limits in console-limits.test.ts,
 * the browser flows in test/e2e/console.e2e.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { issueSetupLink } from "../../src/accounts/setup-links.js";
import { createUser } from "../../src/accounts/users.js";
import { ManualClock } from "../../src/clock.js";
import { drivers } from "../helpers/databases.js";
import { openGetStream, openSession } from "../helpers/mcp.js";
import {
  connect,
  CookieJar,
  expectRefreshRefused,
  formFields,
  mcpBearerStatus,
  mcpBearerStatusOnNode,
  mcpStatusAfterRevocation,
  mcpStatusAfterRevocationOnNode,
  openAuthorize,
  pkce,
  refreshGrant,
  registerClient,
  signIn,
  visibleText,
} from "../helpers/oauth.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import {
  api,
  type ApiOptions,
  confirmations,
  type Cookie,
  cookieHeader,
  cookieValue,
  type Credential,
  CROSS_SITE,
  expectApiError,
  expectPageHeaders,
  FORBIDDEN_NAME_CHARACTERS,
  get,
  MCP_SCOPE_WORDS,
  newKeyOn,
  pageAt,
  PASSWORD,
  plainText,
  rowOf,
  SESSION_COOKIE,
  sessionSetCookie,
  sha256Hex,
  signedIn,
  submit,
  type Upload,
  uploadOnce,
} from "../helpers/console.js";

for (const driver of drivers()) {
  describe(`console: sessions, /user and /api (${driver})`, () => {
    let server: TestServer;
    /** A second node on the same database and public URL (PostgreSQL only): revocation must reach it too. */
    let other: TestServer | null = null;
    /** Where the second node listens (its public URL is the first node's). */
    let otherUrl = "";
    let base: string;
    let alice: { id: string; email: string };
    let bob: { id: string; email: string };
    let aliceJar: CookieJar;
    let bobJar: CookieJar;
    let clients = 0;

    beforeAll(async () => {
      server = await startTestServer(driver);
      base = server.base;
      if (driver === "postgres") {
        other = await startTestServer(driver, { testDb: server.testDb, config: { publicUrl: base } });
        otherUrl = other.running.url;
      }
      alice = await server.addUser("alice@example.com", PASSWORD);
      bob = await server.addUser("bob@example.com", PASSWORD);
      aliceJar = await signIn(base, "alice@example.com", PASSWORD);
      bobJar = await signIn(base, "bob@example.com", PASSWORD);
    });
    afterAll(async () => {
      await other?.close();
      await server?.close();
    });

    const connectAs = async (jar: CookieJar, name = `Console client ${++clients}`) => {
      const client = await registerClient(base, { client_name: name });
      const { tokens } = await connect(base, jar, client);
      return { client, access: tokens.access_token, refresh: tokens.refresh_token };
    };
    const credentials = async (cookie: Cookie): Promise<Credential[]> => {
      const response = await api(base, "/tokens", { cookie });
      expect(response.status, response.text).toBe(200);
      return (response.json as { tokens: Credential[] }).tokens;
    };
    const connectionOf = async (jar: CookieJar, clientId: string) => (await credentials(jar)).find((c) => c.kind === "mcp" && c.client?.id === clientId);
    const csrfOf = async (cookie: Cookie) => {
      const me = await api(base, "/me", { cookie });
      expect(me.status, me.text).toBe(200);
      return me.json!.csrf_token as string;
    };
    const newKey = async (jar: CookieJar, name: string) => {
      const created = await api(base, "/tokens", { method: "POST", cookie: jar, csrf: await csrfOf(jar), body: { name } });
      expect(created.status, created.text).toBe(201);
      return created.json as unknown as Credential & { token: string };
    };

    describe("sign-in and sessions", () => {
      it("/user without a session → 303 to /login?return_to=%2Fuser, also with an unknown or oversized session cookie", async () => {
        for (const cookie of [null, `${SESSION_COOKIE}=${"A".repeat(43)}`, `${SESSION_COOKIE}=`, `${SESSION_COOKIE}=${"A".repeat(5000)}`]) {
          expect(await signedIn(base, cookie), String(cookie).slice(0, 40)).toBe(false);
        }
        const login = await pageAt(base, "/login?return_to=%2Fuser", null);
        expect(login.status).toBe(200);
        expectPageHeaders(login.headers, "GET /login");
        expect(formFields(login.html, "/login").return_to).toBe("/user");
        // Writes without a session do nothing either.
        const write = await submit(base, "/user/tokens", null, { name: "nope", csrf_token: "x" });
        expect(write.status).toBe(303);
        expect(write.headers.get("location")).toBe("/login?return_to=%2Fuser");
      });

      it("sign-in sets a host-only session cookie (HttpOnly, SameSite=Lax, Path=/); every sign-in gets a new id and ends the session it replaces", async () => {
        const jar = new CookieJar();
        const page = await get(base, "/login", jar);
        jar.absorb(page);
        const fields = formFields(await page.text(), "/login");

        const first = await submit(base, "/login", jar, { ...fields, email: "alice@example.com", password: PASSWORD });
        expect(first.status).toBe(303);
        const set = sessionSetCookie(first);
        expect(set).toBeDefined();
        expect(set).toMatch(/;\s*HttpOnly(;|$)/i);
        expect(set).toMatch(/;\s*SameSite=Lax(;|$)/i);
        expect(set).toMatch(/;\s*Path=\/(;|$)/i);
        expect(set).not.toMatch(/;\s*Domain=/i);
        expect(set, "no Secure flag on an http public URL (browsers would drop it)").not.toMatch(/;\s*Secure/i);
        const maxAge = /;\s*Max-Age=(\d+)/i.exec(set!)?.[1];
        expect(Number(maxAge)).toBeGreaterThan(0);
        expect(Number(maxAge)).toBeLessThanOrEqual(24 * 60 * 60);
        jar.absorb(first);
        const firstSession = cookieValue(jar, SESSION_COOKIE)!;
        expect(firstSession).toMatch(/^[A-Za-z0-9_-]{32,}$/);

        // Another browser of the same person: an independent session.
        const elsewhere = await signIn(base, "alice@example.com", PASSWORD);
        expect(cookieValue(elsewhere, SESSION_COOKIE)).not.toBe(firstSession);

        // Signing in again over a live session (or over a planted one): a new id, and the old one is dead.
        const again = await submit(base, "/login", jar, { ...fields, email: "alice@example.com", password: PASSWORD });
        expect(again.status).toBe(303);
        jar.absorb(again);
        const secondSession = cookieValue(jar, SESSION_COOKIE)!;
        expect(secondSession).toBeDefined();
        expect(secondSession).not.toBe(firstSession);
        expect(await signedIn(base, `${SESSION_COOKIE}=${firstSession}`), "the replaced session ended").toBe(false);
        expect(await signedIn(base, `${SESSION_COOKIE}=${secondSession}`)).toBe(true);
        expect(await signedIn(base, elsewhere), "the other browser's session lives on").toBe(true);

        // Session fixation: a value planted before sign-in is never adopted.
        const planted = `gh_login_csrf=${cookieValue(jar, "gh_login_csrf")}; ${SESSION_COOKIE}=${"P".repeat(43)}`;
        const fixation = await submit(base, "/login", planted, { ...fields, email: "alice@example.com", password: PASSWORD });
        expect(fixation.status).toBe(303);
        expect(sessionSetCookie(fixation)).toBeDefined();
        expect(sessionSetCookie(fixation)).not.toContain("P".repeat(43));
      });

      it("on an http public URL (localhost development) the sign-in and setup CSRF cookies keep their plain names and no Secure flag", async () => {
        const login = (await get(base, "/login", null)).headers.getSetCookie();
        expect(login.filter((c) => c.startsWith("__Host-"))).toEqual([]);
        const loginCookie = login.find((c) => c.startsWith("gh_login_csrf="));
        expect(loginCookie).toMatch(/;\s*Path=\/(;|$)/i);
        expect(loginCookie).not.toMatch(/;\s*Secure/i);

        const user = await createUser(server.testDb.database.db, { email: "plain-cookies@example.com" });
        const link = await issueSetupLink(server.running.deps.kv, base, { kind: "set-password", userId: user.id });
        const setup = (await get(base, link.slice(base.length), null)).headers.getSetCookie();
        expect(setup.filter((c) => c.startsWith("__Host-"))).toEqual([]);
        const setupCookie = setup.find((c) => c.startsWith("gh_setup_csrf="));
        expect(setupCookie).toMatch(/;\s*Path=\/setup(;|$)/i);
        expect(setupCookie).not.toMatch(/;\s*Secure/i);
      });

      it("sign-out ends the session on the server: the old cookie no longer works for /user or /api", async () => {
        const jar = await signIn(base, "alice@example.com", PASSWORD);
        const session = cookieValue(jar, SESSION_COOKIE)!;
        const userPage = await pageAt(base, "/user", jar);
        const fields = formFields(userPage.html, "/logout");
        expect(fields.csrf_token).toBeTruthy();

        const out = await submit(base, "/logout", jar, fields);
        expect(out.status).toBe(303);
        expect(out.headers.get("location")).toBe("/login?return_to=%2Fuser");
        const cleared = out.headers.getSetCookie().find((c) => c.startsWith(`${SESSION_COOKIE}=`));
        expect(cleared, "the cookie is cleared in the browser").toMatch(/max-age=0|expires=thu, 01 jan 1970/i);
        jar.absorb(out);
        expect(cookieValue(jar, SESSION_COOKIE)).toBeUndefined();

        // A copy of the cookie (another tab, a stolen value) no longer works: the session is gone server-side.
        const stale = `${SESSION_COOKIE}=${session}`;
        expect(await signedIn(base, stale)).toBe(false);
        expectApiError(await api(base, "/me", { cookie: stale }), 401, "unauthenticated");
        const write = await submit(base, "/user/tokens", stale, { name: "after logout", csrf_token: formFields(userPage.html, "/user/tokens").csrf_token! });
        expect(write.status).toBe(303);
        expect(write.headers.get("location")).toBe("/login?return_to=%2Fuser");
      });

      it("a session ends on the server after its lifetime (the cookie's Max-Age), whatever the browser keeps", async () => {
        const clock = new ManualClock(Date.now());
        const timed = await startTestServer(driver, { clock });
        try {
          await timed.addUser("dora@example.com", PASSWORD);
          const jar = new CookieJar();
          const page = await get(timed.base, "/login", jar);
          jar.absorb(page);
          const response = await submit(timed.base, "/login", jar, { ...formFields(await page.text(), "/login"), email: "dora@example.com", password: PASSWORD });
          const maxAge = Number(/;\s*Max-Age=(\d+)/i.exec(sessionSetCookie(response) ?? "")?.[1]);
          expect(maxAge).toBeGreaterThan(0);
          jar.absorb(response);
          clock.advance(maxAge * 1000 - 60_000);
          expect(await signedIn(timed.base, jar), "a minute before the end").toBe(true);
          clock.advance(60_000 + 1);
          expect(await signedIn(timed.base, jar), "past the end").toBe(false);
          expectApiError(await api(timed.base, "/me", { cookie: jar }), 401, "unauthenticated");
        } finally {
          await timed.close();
        }
      });

      it("an unknown email, a wrong password and an account without a password get the same status and message", async () => {
        await createUser(server.testDb.database.db, { email: "passwordless@example.com" });
        const jar = new CookieJar();
        const page = await get(base, "/login", jar);
        jar.absorb(page);
        const fields = formFields(await page.text(), "/login");
        const answers: { label: string; status: number; alert: string; text: string }[] = [];
        for (const [label, email, password] of [
          ["wrong password", "alice@example.com", "not the password"],
          ["unknown email", "nobody@example.com", "not the password"],
          ["no password set", "passwordless@example.com", "not the password"],
          ["not an email at all", "nobody", "not the password"],
        ] as const) {
          const response = await submit(base, "/login", jar, { ...fields, email, password });
          expect(sessionSetCookie(response), label).toBeUndefined();
          expect(response.headers.get("location"), label).toBeNull();
          const html = await response.text();
          const alert = /role="alert">([^<]*)</.exec(html)?.[1] ?? "";
          answers.push({ label, status: response.status, alert, text: visibleText(html) });
        }
        expect(answers[0]!.status).toBe(401);
        expect(answers[0]!.alert).toMatch(/do not match/);
        for (const answer of answers) {
          expect({ status: answer.status, alert: answer.alert, text: answer.text }, answer.label).toEqual({
            status: answers[0]!.status,
            alert: answers[0]!.alert,
            text: answers[0]!.text,
          });
        }
      });

      const offsite = [
        "//evil.example",
        "https://evil.example/",
        "http:evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "\\/evil.example",
        "/\t/evil.example",
        "/\n/evil.example",
        " //evil.example",
        "javascript:alert(1)",
        "data:text/html,hi",
        "https:/evil.example",
        "//evil.example/%2F..",
        "///evil.example",
      ];
      it("return_to never leaves the origin: the login form, the redirect after sign-in, an already signed-in visit, and sign-out", async () => {
        const origin = new URL(base).origin;
        const jar = new CookieJar();
        const page = await get(base, "/login", jar);
        jar.absorb(page);
        const fields = formFields(await page.text(), "/login");
        for (const returnTo of offsite) {
          const form = await pageAt(base, `/login?${new URLSearchParams({ return_to: returnTo })}`, null);
          expect(formFields(form.html, "/login").return_to, JSON.stringify(returnTo)).toBe("/user");

          const response = await submit(base, "/login", jar, { ...fields, return_to: returnTo, email: "alice@example.com", password: PASSWORD });
          expect(response.status, JSON.stringify(returnTo)).toBe(303);
          const location = response.headers.get("location")!;
          // Resolved as a browser resolves it (WHATWG URL: backslashes, tabs and newlines included).
          expect(new URL(location, base).origin, `${JSON.stringify(returnTo)} → ${location}`).toBe(origin);
          expect(location, JSON.stringify(returnTo)).toBe("/user");
          jar.absorb(response);

          const visit = await get(base, `/login?${new URLSearchParams({ return_to: returnTo })}`, jar);
          expect(visit.status, JSON.stringify(returnTo)).toBe(303);
          expect(new URL(visit.headers.get("location")!, base).origin, JSON.stringify(returnTo)).toBe(origin);
        }
        // A same-origin path is kept, query included.
        const kept = await submit(base, "/login", jar, { ...fields, return_to: "/oauth/authorize?client_id=a&state=b", email: "alice@example.com", password: PASSWORD });
        expect(kept.headers.get("location")).toBe("/oauth/authorize?client_id=a&state=b");
        jar.absorb(kept);
        // Sign-out's return_to is held to the same rule.
        const logout = formFields((await pageAt(base, "/user", jar)).html, "/logout");
        const out = await submit(base, "/logout", jar, { ...logout, return_to: "//evil.example" });
        expect(out.status).toBe(303);
        expect(out.headers.get("location")).toBe("/login?return_to=%2Fuser");
      });
    });

    describe("every console form refuses a missing or wrong CSRF token and a cross-site request", () => {
      it("POST /login: no session is created", async () => {
        const jar = new CookieJar();
        const page = await get(base, "/login", jar);
        jar.absorb(page);
        const fields = { ...formFields(await page.text(), "/login"), email: "alice@example.com", password: PASSWORD };
        const cases: [string, Cookie, Record<string, string>, Record<string, string>][] = [
          ["no csrf_token", jar, { ...fields, csrf_token: "" }, {}],
          ["a wrong csrf_token", jar, { ...fields, csrf_token: "B".repeat(43) }, {}],
          ["no CSRF cookie", null, fields, {}],
          ...CROSS_SITE.map(([label, headers]): [string, Cookie, Record<string, string>, Record<string, string>] => [label, jar, fields, headers]),
        ];
        for (const [label, cookie, body, headers] of cases) {
          const response = await submit(base, "/login", cookie, body, headers);
          expect(response.status, label).toBe(403);
          expect(sessionSetCookie(response), label).toBeUndefined();
        }
        // The same form, untouched, works.
        expect((await submit(base, "/login", jar, fields)).status).toBe(303);
      });

      it("POST /logout: the session lives on", async () => {
        const jar = await signIn(base, "alice@example.com", PASSWORD);
        const fields = formFields((await pageAt(base, "/user", jar)).html, "/logout");
        const create = formFields((await pageAt(base, "/user", jar)).html, "/user/tokens");
        const cases: [string, Record<string, string>, Record<string, string>][] = [
          ["no csrf_token", { ...fields, csrf_token: "" }, {}],
          ["a wrong csrf_token", { ...fields, csrf_token: "C".repeat(43) }, {}],
          ["another form's csrf_token", { ...fields, csrf_token: create.csrf_token! }, {}],
          ...CROSS_SITE.map(([label, headers]): [string, Record<string, string>, Record<string, string>] => [label, fields, headers]),
        ];
        for (const [label, body, headers] of cases) {
          const response = await submit(base, "/logout", jar, body, headers);
          expect(response.status, label).toBe(403);
          expect(response.headers.getSetCookie().filter((c) => c.startsWith(`${SESSION_COOKIE}=`)), label).toEqual([]);
          expect(await signedIn(base, jar), label).toBe(true);
        }
      });

      it("POST /user/tokens (create a key): nothing is created", async () => {
        const jar = await signIn(base, "bob@example.com", PASSWORD);
        const html = (await pageAt(base, "/user", jar)).html;
        const fields = { ...formFields(html, "/user/tokens"), name: "csrf probe" };
        const otherSession = formFields((await pageAt(base, "/user", aliceJar)).html, "/user/tokens").csrf_token!;
        const cases: [string, Record<string, string>, Record<string, string>][] = [
          ["no csrf_token", { ...fields, csrf_token: "" }, {}],
          ["a wrong csrf_token", { ...fields, csrf_token: "D".repeat(43) }, {}],
          ["the logout form's csrf_token", { ...fields, csrf_token: formFields(html, "/logout").csrf_token! }, {}],
          ["another session's csrf_token", { ...fields, csrf_token: otherSession }, {}],
          ...CROSS_SITE.map(([label, headers]): [string, Record<string, string>, Record<string, string>] => [label, fields, headers]),
        ];
        for (const [label, body, headers] of cases) {
          const response = await submit(base, "/user/tokens", jar, body, headers);
          expect(response.status, label).toBe(403);
          expect(response.headers.get("location"), label).toBeNull();
          expect(await response.text(), label).not.toMatch(/ghk_/);
        }
        expect((await credentials(jar)).filter((c) => c.name === "csrf probe")).toEqual([]);
        expect((await pageAt(base, "/user", jar)).html, "no key is waiting to be shown either").not.toMatch(/id="new-key|ghk_/);
      });
    });

    describe("/user: MCP connections and personal API keys", () => {
      it("lists an MCP connection made with connect(), tagged mcp, with the client's name (escaped) and its dates", async () => {
        const name = `Console <b>Test</b> & "Co" ${driver}`;
        const { client } = await connectAs(aliceJar, name);
        const connection = await connectionOf(aliceJar, client.client_id);
        expect(connection).toMatchObject({ kind: "mcp", client: { id: client.client_id, name } });
        expect(connection!.expiresAt).not.toBeNull();

        const page = await pageAt(base, "/user", aliceJar);
        expect(page.status).toBe(200);
        expectPageHeaders(page.headers, "GET /user");
        const row = rowOf(page.html, connection!.id);
        expect(row, "the connection has a row with its Disconnect form").not.toBeNull();
        expect(row).toMatch(/data-kind="mcp"/);
        expect(row).toContain('<span class="tag">mcp</span>');
        expect(row, "the name is escaped").toContain("Console &lt;b&gt;Test&lt;/b&gt; &amp; &quot;Co&quot;");
        expect(row).not.toContain("<b>Test</b>");
        const text = visibleText(row!);
        expect(text).toContain(name);
        expect(text).toMatch(/Created .*UTC/);
        expect(text).toMatch(/Last used /);
        expect(text).toMatch(/Expires .*UTC/);
        expect(text).toContain("Disconnect");
        expect(formFields(row!, `/user/tokens/${connection!.id}/delete`).csrf_token).toBeTruthy();
        // The scopes are labelled and in the consent page's words (one wording for both pages).
        expect(connection!.scopes).toEqual(["mcp"]);
        expect(plainText(row!)).toContain(`Scopes: ${MCP_SCOPE_WORDS}`);
        expect(page.html, "the account page uses the wide layout").toMatch(/<main class="wide">/);

        // Only its owner sees it.
        expect(rowOf((await pageAt(base, "/user", bobJar)).html, connection!.id)).toBeNull();
      });

      it("the Disconnect form refuses a missing or wrong CSRF token, cross-site posts and other users: nothing is deleted", async () => {
        const { client, access } = await connectAs(aliceJar);
        const connection = (await connectionOf(aliceJar, client.client_id))!;
        const path = `/user/tokens/${connection.id}/delete`;
        const html = (await pageAt(base, "/user", aliceJar)).html;
        const fields = formFields(html, path);
        const cases: [string, Record<string, string>, Record<string, string>][] = [
          ["no csrf_token", {}, {}],
          ["an empty csrf_token", { csrf_token: "" }, {}],
          ["a wrong csrf_token", { csrf_token: "E".repeat(43) }, {}],
          ["the create form's csrf_token", { csrf_token: formFields(html, "/user/tokens").csrf_token! }, {}],
          ["a token from bob's session", { csrf_token: formFields((await pageAt(base, "/user", bobJar)).html, "/user/tokens").csrf_token! }, {}],
          ...CROSS_SITE.map(([label, headers]): [string, Record<string, string>, Record<string, string>] => [label, fields, headers]),
        ];
        for (const [label, body, headers] of cases) {
          const response = await submit(base, path, aliceJar, body, headers);
          expect(response.status, label).toBe(403);
          expect(response.headers.get("location"), label).toBeNull();
        }
        // Bob's own, valid Disconnect/Delete token pointed at alice's connection deletes nothing of hers.
        const bobKey = await newKey(bobJar, "bob's anchor");
        const bobToken = formFields((await pageAt(base, "/user", bobJar)).html, `/user/tokens/${bobKey.id}/delete`).csrf_token!;
        const bobDelete = await submit(base, path, bobJar, { csrf_token: bobToken });
        expect([303, 404], "bob's request is answered, but deletes nothing").toContain(bobDelete.status);
        expect(visibleText((await pageAt(base, "/user", bobJar)).html), "and confirms nothing").not.toMatch(/Disconnected|Deleted key/);

        expect(await connectionOf(aliceJar, client.client_id), "the connection is still there").toBeDefined();
        const after = (await pageAt(base, "/user", aliceJar)).html;
        expect(rowOf(after, connection.id)).not.toBeNull();
        expect(visibleText(after)).not.toMatch(/Disconnected/);
        expect(await mcpBearerStatus(base, access), "its access token still works").not.toBe(401);
      });

      it("Disconnect: 303 to /user, the access token gets 401 at /mcp within 1 s (every node), the refresh token fails, its MCP stream ends, and the page shows it gone", async () => {
        const { client, access, refresh } = await connectAs(aliceJar, `Disconnect me ${driver}`);
        const connection = (await connectionOf(aliceJar, client.client_id))!;
        expect([401, 403], "the token works before").not.toContain(await mcpBearerStatus(base, access));
        if (other) expect([401, 403], "the other node accepts (and caches) the token").not.toContain(await mcpBearerStatusOnNode(otherUrl, base, access));
        const session = await openSession(base, access);
        const stream = await openGetStream(base, access, session);

        const path = `/user/tokens/${connection.id}/delete`;
        const fields = formFields((await pageAt(base, "/user", aliceJar)).html, path);
        const deleted = await submit(base, path, aliceJar, fields);
        expect(deleted.status).toBe(303);
        expect(deleted.headers.get("location")).toBe("/user");

        expect(await mcpStatusAfterRevocation(base, access, 1000)).toBe(401);
        if (other) expect(await mcpStatusAfterRevocationOnNode(otherUrl, base, access, 1000), "401 on the other node within 1 s").toBe(401);
        expectRefreshRefused(await refreshGrant(base, client.client_id, refresh));
        expect(await stream.endsWithin(2000), "the connection's open MCP stream is closed").toBe(true);
        await stream.close();

        // The page it redirects to confirms it once, by name (looked up on the server; nothing in the URL).
        const after = await pageAt(base, "/user", aliceJar);
        expect(rowOf(after.html, connection.id)).toBeNull();
        expect(confirmations(after.html)).toEqual([`Disconnected Disconnect me ${driver}.`]);
        const reloaded = await pageAt(base, "/user", aliceJar);
        expect(confirmations(reloaded.html), "shown once").toEqual([]);
        expect(visibleText(reloaded.html)).not.toContain(`Disconnect me ${driver}`);
        expect(await connectionOf(aliceJar, client.client_id)).toBeUndefined();
        // Posting the same form again is harmless, and confirms nothing.
        const again = await submit(base, path, aliceJar, fields);
        expect(again.status).toBe(303);
        expect(again.headers.get("location")).toBe("/user");
        expect(confirmations((await pageAt(base, "/user", aliceJar)).html)).toEqual([]);
        // PRODUCT §6: the registration goes with its last connection.
        const authorize = await openAuthorize(base, aliceJar, {
          response_type: "code",
          client_id: client.client_id,
          redirect_uri: client.redirect_uris[0]!,
          code_challenge: pkce().challenge,
          code_challenge_method: "S256",
          state: "s",
          resource: `${base}/mcp`,
        });
        expect(authorize.status, "the client registration went with its last connection").toBe(400);
        expect(visibleText(await authorize.text())).toMatch(/not registered/);
      });

      it("consent's \"Not you? Sign out\" ends the session and, after signing in as someone else, returns to the same request", async () => {
        const client = await registerClient(base, { client_name: `Not you ${driver}` });
        const params = {
          response_type: "code",
          client_id: client.client_id,
          redirect_uri: client.redirect_uris[0]!,
          code_challenge: pkce().challenge,
          code_challenge_method: "S256",
          state: "not-you",
          resource: `${base}/mcp`,
        };
        const jar = await signIn(base, "alice@example.com", PASSWORD);
        const consent = await openAuthorize(base, jar, params);
        expect(consent.status).toBe(200);
        const html = await consent.text();
        expect(visibleText(html)).toContain("Signed in as alice@example.com");
        const out = await submit(base, "/logout", jar, formFields(html, "/logout"));
        expect(out.status).toBe(303);
        const login = new URL(out.headers.get("location")!, base);
        expect(login.pathname).toBe("/login");
        const returnTo = login.searchParams.get("return_to")!;
        expect(returnTo).toBe(`/oauth/authorize?${new URLSearchParams(params)}`);
        jar.absorb(out);
        expect(await signedIn(base, jar)).toBe(false);

        const form = await get(base, `${login.pathname}${login.search}`, jar);
        jar.absorb(form);
        const back = await submit(base, "/login", jar, { ...formFields(await form.text(), "/login"), email: "bob@example.com", password: PASSWORD });
        expect(back.status).toBe(303);
        expect(back.headers.get("location")).toBe(returnTo);
        jar.absorb(back);
        const again = await get(base, returnTo, jar);
        expect(again.status).toBe(200);
        expect(visibleText(await again.text())).toContain("Signed in as bob@example.com");
      });

      it("an MCP connection's \"Last used\" follows its /mcp calls, not only its authorization", async () => {
        const clock = new ManualClock(Date.now());
        const timed = await startTestServer(driver, { clock });
        try {
          await timed.addUser("erin@example.com", PASSWORD);
          const jar = await signIn(timed.base, "erin@example.com", PASSWORD);
          const client = await registerClient(timed.base, { client_name: "Last used probe" });
          const { tokens } = await connect(timed.base, jar, client);
          const connectedAt = clock.now();
          clock.advance(10 * 60_000); // ten minutes later (the access token lives an hour)
          expect([401, 403]).not.toContain(await mcpBearerStatus(timed.base, tokens.access_token));
          const lastUsed = async () => {
            const list = await api(timed.base, "/tokens", { cookie: jar });
            const connection = (list.json as { tokens: Credential[] }).tokens.find((t) => t.client?.id === client.client_id)!;
            return Date.parse(connection.lastUsedAt ?? "1970-01-01T00:00:00Z");
          };
          const deadline = Date.now() + 1000;
          let seen = await lastUsed();
          while (seen < connectedAt + 10 * 60_000 && Date.now() < deadline) {
            await new Promise((resolve) => setTimeout(resolve, 50));
            seen = await lastUsed();
          }
          expect(seen, `last used ${new Date(seen).toISOString()}: the /mcp call ten minutes after connecting is not recorded`).toBeGreaterThanOrEqual(connectedAt + 10 * 60_000);
        } finally {
          await timed.close();
        }
      });

      it("the New key form (Post/Redirect/Get): 303 to /user, which shows the key once with a copy button; a reload shows nothing and creates nothing; Delete confirms by name", async () => {
        const jar = await signIn(base, "bob@example.com", PASSWORD);
        const fields = formFields((await pageAt(base, "/user", jar)).html, "/user/tokens");
        const before = (await credentials(jar)).length;
        const created = await submit(base, "/user/tokens", jar, { ...fields, name: "deploy <script>" });
        expect(created.status).toBe(303);
        expect(created.headers.get("location"), "back to /user, nothing in the URL").toBe("/user");
        expect(await created.text(), "the key is not in the POST's answer").not.toMatch(/ghk_/);

        const shown = await pageAt(base, "/user", jar);
        expect(shown.status).toBe(200);
        expectPageHeaders(shown.headers, "GET /user with a new key");
        const token = newKeyOn(shown.html);
        expect(token, "the key is shown").toMatch(/^ghk_[A-Za-z0-9_-]{40,}$/);
        expect(shown.html).toContain('id="copy-key"');
        expect(visibleText(shown.html)).toMatch(/New key deploy <script> ?\. Copy it now: it is shown only once/);
        expect(shown.html).toContain("deploy &lt;script&gt;");
        expect(shown.html).not.toContain("deploy <script>");
        expect((await api(base, "/me", { bearer: token! })).status).toBe(200);

        // A reload is a GET: the key is not shown again, and no second key is made.
        const reloaded = await pageAt(base, "/user", jar);
        expect(reloaded.html, "never shown again").not.toContain(token!);
        expect(newKeyOn(reloaded.html)).toBeUndefined();
        const keys = (await credentials(jar)).filter((c) => c.name === "deploy <script>");
        expect(keys).toHaveLength(1);
        expect((await credentials(jar)).length).toBe(before + 1);
        const key = keys[0]!;
        expect(key).toMatchObject({ kind: "api_key", client: null });
        const row = rowOf(reloaded.html, key.id)!;
        expect(row).toMatch(/data-kind="api_key"/);
        expect(visibleText(row)).toContain("Delete");

        const deleted = await submit(base, `/user/tokens/${key.id}/delete`, jar, formFields(row, `/user/tokens/${key.id}/delete`));
        expect(deleted.status).toBe(303);
        expect(deleted.headers.get("location")).toBe("/user");
        expectApiError(await api(base, "/me", { bearer: token! }), 401, "invalid_token");
        const after = await pageAt(base, "/user", jar);
        expect(rowOf(after.html, key.id)).toBeNull();
        expect(confirmations(after.html)).toEqual(["Deleted key deploy <script>."]);
        expect(after.html).not.toContain("deploy <script>");
        expect(confirmations((await pageAt(base, "/user", jar)).html), "shown once").toEqual([]);
      });

      it("the new key waits only for the session that made it, sealed (the plaintext is never stored), at most 60 s; two creates before a GET are both shown", async () => {
        const kv = server.running.deps.kv;
        const jar = await signIn(base, "bob@example.com", PASSWORD);
        const elsewhere = await signIn(base, "bob@example.com", PASSWORD);
        // Two tabs, each with the form open: both submitted before either redirect is followed.
        const form = formFields((await pageAt(base, "/user", jar)).html, "/user/tokens");
        const create = async (name: string) => {
          const response = await submit(base, "/user/tokens", jar, { ...form, name });
          expect(response.status, name).toBe(303);
          expect(response.headers.get("location"), name).toBe("/user");
        };
        await create("first tab");
        await create("second tab");
        // Stored under this session (the hash of its cookie), sealed: iv.tag.ciphertext.
        const prefix = `console:flash:${sha256Hex(cookieValue(jar, SESSION_COOKIE)!)}:`;
        const stored = (await kv.scanByPrefix(prefix)).entries;
        expect(stored).toHaveLength(2);
        for (const entry of stored) expect(entry.value).toMatch(/^[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]+$/);

        expect(newKeyOn((await pageAt(base, "/user", elsewhere)).html), "another session of the same person sees nothing").toBeUndefined();
        const page = await pageAt(base, "/user", jar);
        const shown = [...page.html.matchAll(/<input[^>]*id="(new-key[^"]*)"[^>]*value="(ghk_[^"]+)"/g)].map((m) => [m[1], m[2]!] as const);
        expect(shown.map(([id]) => id)).toEqual(["new-key", "new-key-2"]);
        expect(visibleText(page.html).indexOf("New key first tab")).toBeLessThan(visibleText(page.html).indexOf("New key second tab"));
        expect(page.html).toContain('data-copy="new-key-2"');
        for (const [, token] of shown) {
          expect((await api(base, "/me", { bearer: token })).status).toBe(200);
          for (const entry of stored) {
            expect(entry.value, "the stored entry does not hold the key").not.toContain(token.slice(4));
            expect(entry.value).not.toContain(token.slice(4, 24));
          }
        }
        expect((await kv.scanByPrefix(prefix)).entries, "taken on display").toEqual([]);
        expect(newKeyOn((await pageAt(base, "/user", jar)).html)).toBeUndefined();
      });

      it("a new key not displayed within 60 s is not shown any more (the key itself stays listed, deletable)", async () => {
        const clock = new ManualClock(Date.now());
        const timed = await startTestServer(driver, { clock });
        try {
          await timed.addUser("fay@example.com", PASSWORD);
          const jar = await signIn(timed.base, "fay@example.com", PASSWORD);
          const fields = formFields((await pageAt(timed.base, "/user", jar)).html, "/user/tokens");
          expect((await submit(timed.base, "/user/tokens", jar, { ...fields, name: "late" })).status).toBe(303);
          clock.advance(60_001);
          const page = await pageAt(timed.base, "/user", jar);
          expect(newKeyOn(page.html)).toBeUndefined();
          expect(page.html).not.toMatch(/ghk_/);
          expect(visibleText(page.html)).toContain("late");
        } finally {
          await timed.close();
        }
      });

      it("nothing from the URL reaches the page: /user with made-up confirmation parameters shows none of them; the forms redirect to exactly /user", async () => {
        const probes = ['<script>alert("x")</script>', "Disconnected Everything.", "javascript:alert(1)"];
        for (const name of ["done", "notice", "flash", "message", "name", "key"]) {
          for (const probe of probes) {
            const page = await pageAt(base, `/user?${new URLSearchParams({ [name]: probe })}`, aliceJar);
            expect(page.status).toBe(200);
            expect(page.html, `${name}=${probe}`).not.toContain(probe);
            expect(page.html).not.toContain(probe.replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;"));
            expect(confirmations(page.html)).toEqual([]);
          }
        }
        // A delete of something that does not exist (or is not yours) still just goes back to /user, confirming nothing.
        const anchor = await newKey(aliceJar, "delete-form anchor");
        const token = formFields((await pageAt(base, "/user", aliceJar)).html, `/user/tokens/${anchor.id}/delete`).csrf_token!;
        for (const id of ["nothing-here", "x".repeat(500), "%2F%2Fevil.example", (await newKey(bobJar, "bob's, not alice's")).id]) {
          const response = await submit(base, `/user/tokens/${id}/delete`, aliceJar, { csrf_token: token });
          expect(response.status, id).toBe(303);
          expect(response.headers.get("location"), id).toBe("/user");
        }
        expect(confirmations((await pageAt(base, "/user", aliceJar)).html)).toEqual([]);
      });

      it("key names with control characters or invisible bidirectional marks are refused (form: 400 with the error; API: 400 invalid_name); other scripts and emoji are fine", async () => {
        const jar = await signIn(base, "alice@example.com", PASSWORD);
        const csrf = await csrfOf(jar);
        const before = (await credentials(jar)).length;
        for (const [label, ch] of FORBIDDEN_NAME_CHARACTERS) {
          const name = `invoice${ch}gpj.exe`;
          const viaApi = await api(base, "/tokens", { method: "POST", cookie: jar, csrf, body: { name } });
          expectApiError(viaApi, 400, "invalid_name");
          expect(viaApi.json!.error_description, label).toMatch(/control characters|text-direction/);
          expect(viaApi.text, label).not.toMatch(/ghk_/);

          const fields = formFields((await pageAt(base, "/user", jar)).html, "/user/tokens");
          const viaForm = await submit(base, "/user/tokens", jar, { ...fields, name });
          expect(viaForm.status, label).toBe(400);
          expect(viaForm.headers.get("location"), label).toBeNull();
          const html = await viaForm.text();
          expect(html, label).not.toMatch(/ghk_/);
          expect(/role="alert">([^<]*)</.exec(html)?.[1], label).toMatch(/must not contain control characters or invisible text-direction marks/);
          // The same kind of answer as any other invalid name.
          expect(/role="alert">/.test(html)).toBe(true);
        }
        const empty = await submit(base, "/user/tokens", jar, { ...formFields((await pageAt(base, "/user", jar)).html, "/user/tokens"), name: "   " });
        expect(empty.status).toBe(400);
        expect(/role="alert">([^<]*)</.exec(await empty.text())?.[1]).toMatch(/1 to 100 characters/);
        expect((await credentials(jar)).length, "nothing was created").toBe(before);

        // Whitespace around a name is trimmed, as before; letters of any script and emoji (with joiners) are kept.
        for (const name of ["Ключ для CI", "部署 🔑", "family 👨‍👩‍👧", "שלום key", "naïve café"]) {
          const created = await api(base, "/tokens", { method: "POST", cookie: jar, csrf, body: { name } });
          expect(created.status, `${name}: ${created.text}`).toBe(201);
          expect(created.json!.name).toBe(name);
        }
        const viaForm = await submit(base, "/user/tokens", jar, { ...formFields((await pageAt(base, "/user", jar)).html, "/user/tokens"), name: "  cron\u00a0job  " });
        expect(viaForm.status).toBe(303);
      });
    });

    describe("/api", () => {
      it("GET /api/me with the session cookie (with a csrf_token) and with a personal API key (without one)", async () => {
        const me = await api(base, "/me", { cookie: aliceJar });
        expect(me.status, me.text).toBe(200);
        expect(me.headers.get("content-type")).toMatch(/^application\/json\b/);
        expect(me.headers.get("cache-control") ?? "").toMatch(/\bno-store\b/);
        expect(me.json).toEqual({ id: alice.id, email: "alice@example.com", csrf_token: expect.stringMatching(/^[A-Za-z0-9_-]{20,}$/) });

        const key = await newKey(aliceJar, "me probe");
        const viaKey = await api(base, "/me", { bearer: key.token });
        expect(viaKey.status, viaKey.text).toBe(200);
        expect(viaKey.json).toEqual({ id: alice.id, email: "alice@example.com" });
        // The bearer, when present, is what counts: a cookie beside it adds nothing.
        const both = await api(base, "/me", { bearer: key.token, cookie: bobJar });
        expect(both.json).toEqual({ id: alice.id, email: "alice@example.com" });

        expectApiError(await api(base, "/me"), 401, "unauthenticated");
        expect((await api(base, "/me")).headers.get("www-authenticate")).toMatch(/^Bearer\b/);
      });

      it("POST /api/tokens with the cookie needs the X-CSRF-Token from /api/me and a same-origin request", async () => {
        const csrf = await csrfOf(bobJar);
        const formToken = formFields((await pageAt(base, "/user", bobJar)).html, "/user/tokens").csrf_token!;
        const cases: [string, ApiOptions][] = [
          ["no X-CSRF-Token", {}],
          ["an empty X-CSRF-Token", { csrf: "" }],
          ["a wrong X-CSRF-Token", { csrf: "F".repeat(43) }],
          ["the /user form's token (another purpose)", { csrf: formToken }],
          ["alice's token", { csrf: await csrfOf(aliceJar) }],
          ...CROSS_SITE.map(([label, headers]): [string, ApiOptions] => [label, { csrf, headers }]),
        ];
        for (const [label, options] of cases) {
          const response = await api(base, "/tokens", { method: "POST", cookie: bobJar, body: { name: "csrf api probe" }, ...options });
          expect(response.status, label).toBe(403);
          expectApiError(response, 403, "csrf_failed");
        }
        expect((await credentials(bobJar)).filter((c) => c.name === "csrf api probe")).toEqual([]);
        const ok = await api(base, "/tokens", { method: "POST", cookie: bobJar, csrf, body: { name: "csrf api probe" } });
        expect(ok.status, ok.text).toBe(201);
      });

      it("POST /api/tokens returns the key once (ghk_…); GET lists it without the secret; it authenticates /api as bearer; DELETE → 204, then the key gets 401", async () => {
        const created = await api(base, "/tokens", { method: "POST", cookie: aliceJar, csrf: await csrfOf(aliceJar), body: { name: "  ci key  " } });
        expect(created.status, created.text).toBe(201);
        expect(created.headers.get("cache-control") ?? "").toMatch(/\bno-store\b/);
        const key = created.json as unknown as Credential & { token: string };
        expect(key.token).toMatch(/^ghk_[A-Za-z0-9_-]{40,}$/);
        expect(key).toMatchObject({ kind: "api_key", name: "ci key", client: null, lastUsedAt: null });
        const secret = key.token.slice(4);

        const list = await api(base, "/tokens", { cookie: aliceJar });
        expect(list.status).toBe(200);
        const listed = (list.json as { tokens: Credential[] }).tokens.find((t) => t.id === key.id);
        expect(listed).toMatchObject({ id: key.id, kind: "api_key", name: "ci key" });
        expect(listed).not.toHaveProperty("token");
        expect(list.text, "the secret is never listed").not.toContain(secret);
        expect((await pageAt(base, "/user", aliceJar)).html).not.toContain(secret);

        const viaKey = await api(base, "/tokens", { bearer: key.token });
        expect(viaKey.status).toBe(200);
        expect(viaKey.text).not.toContain(secret);
        expect((viaKey.json as { tokens: Credential[] }).tokens.find((t) => t.id === key.id)!.lastUsedAt, "use is recorded").not.toBeNull();
        // A key is not ambient authority: writes with it need no CSRF token.
        const second = await api(base, "/tokens", { method: "POST", bearer: key.token, body: { name: "made by a key" } });
        expect(second.status, second.text).toBe(201);

        const gone = await api(base, `/tokens/${key.id}`, { method: "DELETE", cookie: aliceJar, csrf: await csrfOf(aliceJar) });
        expect(gone.status, gone.text).toBe(204);
        expect(gone.text).toBe("");
        const refused = await api(base, "/me", { bearer: key.token });
        expectApiError(refused, 401, "invalid_token");
        expect(refused.headers.get("www-authenticate")).toMatch(/^Bearer\b/);
        expect((await credentials(aliceJar)).find((t) => t.id === key.id)).toBeUndefined();

        // A key can delete itself (bearer, no CSRF).
        const made = second.json as unknown as Credential & { token: string };
        expect((await api(base, `/tokens/${made.id}`, { method: "DELETE", bearer: made.token })).status).toBe(204);
        expectApiError(await api(base, "/me", { bearer: made.token }), 401, "invalid_token");
      });

      it("kinds never cross: an MCP access or refresh token at /api → 401, with or without a session cookie; a personal API key at /mcp → 401", async () => {
        const { access, refresh } = await connectAs(aliceJar);
        expect(access).toMatch(/^gha_/);
        expect(refresh).toMatch(/^ghr_/);
        for (const [label, token] of [["access token", access], ["refresh token", refresh]] as const) {
          expectApiError(await api(base, "/me", { bearer: token }), 401, "invalid_token");
          expectApiError(await api(base, "/tokens", { bearer: token }), 401, "invalid_token");
          const write = await api(base, "/tokens", { method: "POST", bearer: token, body: { name: `via ${label}` } });
          expectApiError(write, 401, "invalid_token");
          expectApiError(await api(base, "/me", { bearer: token, cookie: aliceJar }), 401, "invalid_token");
        }
        expect((await credentials(aliceJar)).filter((c) => c.name.startsWith("via "))).toEqual([]);
        // Neither was spent or harmed by being shown to /api.
        expect(await mcpBearerStatus(base, access)).not.toBe(401);

        const key = await newKey(aliceJar, "not for mcp");
        expect(await mcpBearerStatus(base, key.token)).toBe(401);
        // Other schemes and shapes.
        expectApiError(await api(base, "/me", { headers: { authorization: `Basic ${Buffer.from("alice@example.com:x").toString("base64")}` } }), 401, "invalid_token");
        expectApiError(await api(base, "/me", { headers: { authorization: "Bearer" } }), 401, "invalid_token");
        expectApiError(await api(base, "/me", { headers: { authorization: `Bearer ${key.token} extra` } }), 401, "invalid_token");
      });

      it("another user's key or connection id → 404 not_found, and nothing is deleted", async () => {
        const aliceKey = await newKey(aliceJar, "alice's key");
        const { client, access } = await connectAs(aliceJar);
        const connection = (await connectionOf(aliceJar, client.client_id))!;
        const bobKey = await newKey(bobJar, "bob's key");
        expect((await api(base, "/me", { bearer: bobKey.token })).json).toEqual({ id: bob.id, email: "bob@example.com" });
        for (const id of [aliceKey.id, connection.id]) {
          expectApiError(await api(base, `/tokens/${id}`, { method: "DELETE", bearer: bobKey.token }), 404, "not_found");
          expectApiError(await api(base, `/tokens/${id}`, { method: "DELETE", cookie: bobJar, csrf: await csrfOf(bobJar) }), 404, "not_found");
        }
        expect((await api(base, "/me", { bearer: aliceKey.token })).status).toBe(200);
        expect(await connectionOf(aliceJar, client.client_id)).toBeDefined();
        expect(await mcpBearerStatus(base, access)).not.toBe(401);
        for (const id of ["00000000-0000-0000-0000-000000000000", "not-a-uuid", "x".repeat(500)]) {
          expectApiError(await api(base, `/tokens/${id}`, { method: "DELETE", bearer: bobKey.token }), 404, "not_found");
        }
      });

      it("DELETE /api/tokens/:id of a connection: 204, and its access token gets 401 at /mcp within 1 s", async () => {
        const { client, access, refresh } = await connectAs(aliceJar);
        const connection = (await connectionOf(aliceJar, client.client_id))!;
        expect([401, 403]).not.toContain(await mcpBearerStatus(base, access));
        if (other) expect([401, 403]).not.toContain(await mcpBearerStatusOnNode(otherUrl, base, access));
        const gone = await api(base, `/tokens/${connection.id}`, { method: "DELETE", cookie: aliceJar, csrf: await csrfOf(aliceJar) });
        expect(gone.status, gone.text).toBe(204);
        expect(await mcpStatusAfterRevocation(base, access, 1000)).toBe(401);
        if (other) expect(await mcpStatusAfterRevocationOnNode(otherUrl, base, access, 1000), "401 on the other node within 1 s").toBe(401);
        expectRefreshRefused(await refreshGrant(base, client.client_id, refresh));
      });

      it("malformed JSON or a wrong shape → 400 with a JSON error, and nothing is created", async () => {
        const csrf = await csrfOf(aliceJar);
        const before = (await credentials(aliceJar)).length;
        const bodies: [string, string, string][] = [
          ["malformed JSON", '{"name": "x"', "invalid_request"],
          ["not JSON at all", "name=x", "invalid_request"],
          ["an empty body", "", "invalid_request"],
          ["a JSON array", '["x"]', "invalid_request"],
          ["JSON null", "null", "invalid_request"],
          ["a number for the name", '{"name": 5}', "invalid_request"],
          ["no name", "{}", "invalid_request"],
          ["an empty name", '{"name": "   "}', "invalid_name"],
          ["a 101-character name", JSON.stringify({ name: "n".repeat(101) }), "invalid_name"],
        ];
        for (const [label, rawBody, code] of bodies) {
          const response = await api(base, "/tokens", { method: "POST", cookie: aliceJar, csrf, rawBody, headers: { "content-type": "application/json" } });
          expect(response.status, label).toBe(400);
          expectApiError(response, 400, code);
        }
        expect((await credentials(aliceJar)).length).toBe(before);
      });

      it("PRODUCT §8: an oversized body (1 MB) is refused with a 4xx (or the upload cut off) and does nothing — /api/tokens, /user/tokens, /login", async () => {
        const pad = "x".repeat(1024 * 1024);
        const refused = (label: string, response: Upload) => {
          if (response === "closed") return; // answered early and closed mid-upload: also a refusal
          expect([400, 413], `${label}: ${response.status} ${response.text.slice(0, 200)}`).toContain(response.status);
          expect(response.setCookies.filter((c) => c.startsWith(`${SESSION_COOKIE}=`)), label).toEqual([]);
        };
        const before = (await credentials(aliceJar)).length;
        const json = { ...cookieHeader(aliceJar), "x-csrf-token": await csrfOf(aliceJar), "content-type": "application/json" };
        refused("POST /api/tokens", await uploadOnce(`${base}/api/tokens`, json, JSON.stringify({ name: "padded", pad })));

        const form = { ...cookieHeader(aliceJar), "content-type": "application/x-www-form-urlencoded" };
        const create = formFields((await pageAt(base, "/user", aliceJar)).html, "/user/tokens");
        refused("POST /user/tokens", await uploadOnce(`${base}/user/tokens`, form, new URLSearchParams({ ...create, name: "padded form", pad }).toString()));
        expect((await credentials(aliceJar)).length, "no key was created").toBe(before);

        const jar = new CookieJar();
        const page = await get(base, "/login", jar);
        jar.absorb(page);
        const login = new URLSearchParams({ ...formFields(await page.text(), "/login"), email: "alice@example.com", password: PASSWORD, pad }).toString();
        refused("POST /login", await uploadOnce(`${base}/login`, { ...cookieHeader(jar), "content-type": "application/x-www-form-urlencoded" }, login));
      });

      it("every /api error is JSON with a stable error code", async () => {
        const key = await newKey(bobJar, "errors probe");
        const cases: [string, string, ApiOptions, number, string][] = [
          ["no credentials", "/me", {}, 401, "unauthenticated"],
          ["no credentials, list", "/tokens", {}, 401, "unauthenticated"],
          ["no credentials, create", "/tokens", { method: "POST", body: { name: "x" } }, 401, "unauthenticated"],
          ["no credentials, delete", "/tokens/x", { method: "DELETE" }, 401, "unauthenticated"],
          ["an unknown bearer", "/me", { bearer: "ghk_unknown" }, 401, "invalid_token"],
          ["a cookie write without CSRF", "/tokens/x", { method: "DELETE", cookie: bobJar }, 403, "csrf_failed"],
          ["an unknown id", "/tokens/x", { method: "DELETE", bearer: key.token }, 404, "not_found"],
          ["an unknown path", "/nothing-here", { bearer: key.token }, 404, "not_found"],
          ["a bad body", "/tokens", { method: "POST", bearer: key.token, rawBody: "{" }, 400, "invalid_request"],
        ];
        for (const [label, path, options, status, code] of cases) {
          const response = await api(base, path, options);
          expect(response.status, `${label}: ${response.text}`).toBe(status);
          expectApiError(response, status, code);
        }
      });
    });
  });
}
