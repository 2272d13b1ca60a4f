/**
 * The console's first-run setup links and the CSRF cookies of sign-in and
 * setup on an https public URL (ISSUE 5; PRODUCT §2, §5; THREATS 35-37).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { issueSetupLink } from "../../src/accounts/setup-links.js";
import { createUser, listUsers } from "../../src/accounts/users.js";
import { drivers } from "../helpers/databases.js";
import {
  CookieJar,
  formFields,
  signIn,
  visibleText,
} from "../helpers/oauth.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import {
  type Cookie,
  cookieHeader,
  CROSS_SITE,
  expectPageHeaders,
  get,
  pageAt,
  PASSWORD,
  sessionSetCookie,
  submit,
} from "../helpers/console.js";

for (const driver of drivers()) {
  describe(`console: first-run setup links (${driver})`, () => {
    let server: TestServer;
    let base: string;
    beforeAll(async () => {
      server = await startTestServer(driver);
      base = server.base;
    });
    afterAll(async () => server?.close());

    const openLink = async (url: string, jar: CookieJar) => {
      const response = await fetch(url, { redirect: "manual", headers: cookieHeader(jar) });
      jar.absorb(response);
      return { status: response.status, html: await response.text(), headers: response.headers };
    };
    const users = async () => (await listUsers(server.testDb.database.db)).map((u) => u.email);

    it("creates the first account and signs it in (303 to /user); a weak password or a bad email leaves the link usable; used once, it is a 404 page", async () => {
      const url = await issueSetupLink(server.running.deps.kv, base, { kind: "first-account" });
      const spare = await issueSetupLink(server.running.deps.kv, base, { kind: "first-account" });
      expect(url.startsWith(`${base}/setup?token=`)).toBe(true);

      const jar = new CookieJar();
      const form = await openLink(url, jar);
      expect(form.status).toBe(200);
      expectPageHeaders(form.headers, "GET /setup");
      expect(visibleText(form.html)).toContain("Create the first account");
      const fields = formFields(form.html, "/setup");
      expect(fields.token).toBe(new URL(url).searchParams.get("token"));
      expect(fields.csrf_token).toBeTruthy();

      // Validation happens before the token is taken: a typo does not burn the link.
      const attempts: [string, Record<string, string>, RegExp][] = [
        ["a 7-character password", { email: "admin@example.com", password: "1234567" }, /at least 8 characters/],
        ["an empty password", { email: "admin@example.com", password: "" }, /at least 8 characters/],
        ["an invalid email", { email: "not an email", password: PASSWORD }, /not a valid email/i],
      ];
      for (const [label, extra, message] of attempts) {
        const response = await submit(base, "/setup", jar, { ...fields, ...extra });
        expect(response.status, label).toBe(400);
        expect(sessionSetCookie(response), label).toBeUndefined();
        expect(response.headers.get("location"), label).toBeNull();
        const again = await response.text();
        expect(visibleText(again), label).toMatch(message);
        expect(formFields(again, "/setup").token, `${label}: the form keeps the link`).toBe(fields.token);
      }
      expect(await users()).toEqual([]);
      const reopened = await openLink(url, jar);
      expect(reopened.status, "the link still opens after the failed attempts").toBe(200);

      const current = formFields(reopened.html, "/setup");
      const created = await submit(base, "/setup", jar, { ...current, email: "  Admin@Example.COM ", password: PASSWORD });
      expect(created.status, await created.clone().text()).toBe(303);
      expect(created.headers.get("location")).toBe("/user");
      const cookie = sessionSetCookie(created);
      expect(cookie, "signed in at once").toBeDefined();
      expect(cookie).toMatch(/;\s*HttpOnly/i);
      expect(cookie).toMatch(/;\s*SameSite=Lax/i);
      jar.absorb(created);
      expect(await users()).toEqual(["admin@example.com"]);
      const account = await pageAt(base, "/user", jar);
      expect(account.status).toBe(200);
      expect(visibleText(account.html)).toContain("Signed in as admin@example.com");
      // The first account is the installation's admin (issue 11): /admin is open to it.
      expect((await listUsers(server.testDb.database.db))[0]!.role).toBe("admin");
      expect((await pageAt(base, "/admin", jar)).status).toBe(200);
      // The password set here is the account's password.
      await signIn(base, "admin@example.com", PASSWORD);

      // Works once: a second use, by GET or by POST, is the "not valid" page and changes nothing.
      const second = await openLink(url, new CookieJar());
      expect(second.status).toBe(404);
      expect(second.headers.get("content-type") ?? "").toMatch(/^text\/html/);
      expect(visibleText(second.html)).toMatch(/invalid, expired or already used/);
      expect(second.html).not.toContain('action="/setup"');
      const replay = await submit(base, "/setup", jar, { ...current, email: "second@example.com", password: PASSWORD });
      expect(replay.status).toBe(404);
      expect(sessionSetCookie(replay)).toBeUndefined();
      // Another first-account link is void as soon as an account exists.
      expect((await openLink(spare, new CookieJar())).status).toBe(404);
      expect(await users()).toEqual(["admin@example.com"]);
    });

    it("concurrent submits of one link create exactly one account", async () => {
      const fresh = await startTestServer(driver);
      try {
        const url = await issueSetupLink(fresh.running.deps.kv, fresh.base, { kind: "first-account" });
        const jar = new CookieJar();
        const response = await fetch(url, { headers: cookieHeader(jar) });
        jar.absorb(response);
        const fields = formFields(await response.text(), "/setup");
        const results = await Promise.all(
          Array.from({ length: 6 }, (_, i) => submit(fresh.base, "/setup", jar, { ...fields, email: `racer${i}@example.com`, password: PASSWORD })),
        );
        const statuses = results.map((r) => r.status).sort();
        expect(statuses).toEqual([303, 404, 404, 404, 404, 404]);
        expect(results.filter((r) => sessionSetCookie(r) !== undefined)).toHaveLength(1);
        expect(await listUsers(fresh.testDb.database.db)).toHaveLength(1);
      } finally {
        await fresh.close();
      }
    });

    it("a set-password link (an account made without one) also works exactly once", async () => {
      const user = await createUser(server.testDb.database.db, { email: "nopass@example.com" });
      const url = await issueSetupLink(server.running.deps.kv, base, { kind: "set-password", userId: user.id });
      const jar = new CookieJar();
      const form = await openLink(url, jar);
      expect(form.status).toBe(200);
      expect(visibleText(form.html)).toContain("nopass@example.com");
      const fields = formFields(form.html, "/setup");
      const done = await submit(base, "/setup", jar, { ...fields, password: PASSWORD });
      expect(done.status).toBe(303);
      expect(done.headers.get("location")).toBe("/user");
      await signIn(base, "nopass@example.com", PASSWORD);
      expect((await openLink(url, new CookieJar())).status).toBe(404);
      const replay = await submit(base, "/setup", jar, { ...fields, password: "an attacker's new password" });
      expect(replay.status).toBe(404);
      await signIn(base, "nopass@example.com", PASSWORD);
    });

    it("refuses a missing or wrong CSRF token and cross-site posts without burning the link; no token or an unknown one is a 404 page", async () => {
      const user = await createUser(server.testDb.database.db, { email: "csrf-setup@example.com" });
      const url = await issueSetupLink(server.running.deps.kv, base, { kind: "set-password", userId: user.id });
      const jar = new CookieJar();
      const fields = formFields((await openLink(url, jar)).html, "/setup");
      const good = { ...fields, password: PASSWORD };
      const refusals: [string, Cookie, Record<string, string>, Record<string, string>][] = [
        ["no csrf_token field", jar, { ...good, csrf_token: "" }, {}],
        ["a wrong csrf_token", jar, { ...good, csrf_token: "A".repeat(43) }, {}],
        ["no CSRF cookie", null, good, {}],
        ...CROSS_SITE.map(([label, headers]): [string, Cookie, Record<string, string>, Record<string, string>] => [label, jar, good, headers]),
      ];
      for (const [label, cookie, body, headers] of refusals) {
        const response = await submit(base, "/setup", cookie, body, headers);
        expect(response.status, label).toBe(403);
        expect(sessionSetCookie(response), label).toBeUndefined();
      }
      expect((await openLink(url, new CookieJar())).status, "the link was not burned").toBe(200);
      for (const path of ["/setup", "/setup?token=", `/setup?token=${"x".repeat(43)}`, `/setup?token=${"x".repeat(5000)}`]) {
        const page = await pageAt(base, path, null);
        expect(page.status, path).toBe(404);
        expect(page.html, path).not.toContain('action="/setup"');
      }
    });
  });

  describe(`console: CSRF cookies on an https public URL (${driver})`, () => {
    const PUBLIC = "https://gatehouse.example";
    let server: TestServer;
    /** Where the server listens (plain http on loopback; its public URL is https). */
    let url: string;
    beforeAll(async () => {
      server = await startTestServer(driver, { config: { publicUrl: PUBLIC } });
      url = server.running.url;
      await server.addUser("hana@example.com", PASSWORD);
    });
    afterAll(async () => server?.close());

    /** RFC 6265bis §4.1.3.2: `__Host-` means Secure, Path=/ and no Domain (browsers refuse it otherwise). */
    const expectHostCookie = (setCookies: string[], name: string) => {
      const cookie = setCookies.find((c) => c.startsWith(`__Host-${name}=`));
      expect(cookie, `${name}: ${JSON.stringify(setCookies)}`).toMatch(new RegExp(`^__Host-${name}=[A-Za-z0-9_-]{43};`));
      for (const attribute of [/;\s*Secure(;|$)/i, /;\s*HttpOnly(;|$)/i, /;\s*Path=\/(;|$)/i, /;\s*SameSite=Strict(;|$)/i]) expect(cookie, name).toMatch(attribute);
      expect(cookie, name).not.toMatch(/;\s*Domain=/i);
      expect(setCookies.filter((c) => c.startsWith(`${name}=`)), `no plain ${name} beside it`).toEqual([]);
    };
    const hostSession = (response: Response) => response.headers.getSetCookie().find((c) => c.startsWith("__Host-gh_session=") && !/max-age=0/i.test(c));

    it("sign-in: the double-submit cookie is __Host-gh_login_csrf; a plain-named one (what a sibling subdomain could plant) does not pass", async () => {
      const page = await get(url, "/login", null);
      expectHostCookie(page.headers.getSetCookie(), "gh_login_csrf");
      const jar = new CookieJar();
      jar.absorb(page);
      const fields: Record<string, string> = { ...formFields(await page.text(), "/login"), email: "hana@example.com", password: PASSWORD };

      const planted = await submit(url, "/login", `gh_login_csrf=${fields.csrf_token}`, fields);
      expect(planted.status).toBe(403);
      expect(hostSession(planted)).toBeUndefined();
      for (const [label, body] of [["no csrf_token", { ...fields, csrf_token: "" }], ["a wrong csrf_token", { ...fields, csrf_token: "G".repeat(43) }]] as const) {
        const response = await submit(url, "/login", jar, body);
        expect(response.status, label).toBe(403);
        expect(hostSession(response), label).toBeUndefined();
      }
      const signedIn = await submit(url, "/login", jar, fields);
      expect(signedIn.status).toBe(303);
      expect(hostSession(signedIn)).toMatch(/;\s*Secure/i);
      // The form is reused as long as its cookie lives: a second visit keeps the same token.
      const again = await get(url, "/login", jar);
      expect(again.headers.getSetCookie().filter((c) => c.includes("gh_login_csrf="))).toEqual([]);
      expect(formFields(await again.text(), "/login").csrf_token).toBe(fields.csrf_token);
    });

    it("setup link: the double-submit cookie is __Host-gh_setup_csrf (so Path=/); a plain-named one does not pass and does not burn the link", async () => {
      const user = await createUser(server.testDb.database.db, { email: "ivo@example.com" });
      const link = await issueSetupLink(server.running.deps.kv, PUBLIC, { kind: "set-password", userId: user.id });
      expect(link.startsWith(`${PUBLIC}/setup?token=`)).toBe(true);
      const path = link.slice(PUBLIC.length);
      const form = await get(url, path, null);
      expect(form.status).toBe(200);
      expectHostCookie(form.headers.getSetCookie(), "gh_setup_csrf");
      const jar = new CookieJar();
      jar.absorb(form);
      const fields: Record<string, string> = { ...formFields(await form.text(), "/setup"), password: PASSWORD };

      const planted = await submit(url, "/setup", `gh_setup_csrf=${fields.csrf_token}`, fields);
      expect(planted.status).toBe(403);
      expect(hostSession(planted)).toBeUndefined();
      const wrong = await submit(url, "/setup", jar, { ...fields, csrf_token: "H".repeat(43) });
      expect(wrong.status).toBe(403);
      const done = await submit(url, "/setup", jar, fields);
      expect(done.status).toBe(303);
      expect(done.headers.get("location")).toBe("/user");
      expect(hostSession(done)).toBeDefined();
    });
  });
}
