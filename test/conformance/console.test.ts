/**
 * The web console over HTTP (ISSUE 5; PRODUCT §5, §6; SPEC-CHECKLIST
 * AZ-16..AZ-19): sign-in and sign-out with server-side sessions,
 * `return_to`, and the CSRF defences of every console form. /user is in
 * console-user.test.ts, the JSON API in console-api.test.ts, setup links in
 * console-setup.test.ts, limits in console-limits.test.ts, the browser flows
 * in test/e2e/console.e2e.test.ts.
 */
import { describe, expect, it } from "vitest";
import { issueSetupLink } from "../../src/accounts/setup-links.js";
import { createUser } from "../../src/accounts/users.js";
import { ManualClock } from "../../src/clock.js";
import { drivers } from "../helpers/databases.js";
import { CookieJar, formFields, signIn, visibleText } from "../helpers/oauth.js";
import { startTestServer } from "../helpers/server.js";
import {
  api,
  type Cookie,
  cookieValue,
  CROSS_SITE,
  expectApiError,
  expectPageHeaders,
  get,
  pageAt,
  PASSWORD,
  SESSION_COOKIE,
  sessionSetCookie,
  signedIn,
  submit,
  useConsoleFixture,
} from "../helpers/console.js";

for (const driver of drivers()) {
  describe(`console: sessions and CSRF (${driver})`, () => {
    const f = useConsoleFixture(driver);

    describe("sign-in and sessions", () => {
      it("/user without a session → 303 to /login?return_to=%2Fuser, also with an unknown or oversized session cookie", async () => {
        for (const cookie of [null, `${SESSION_COOKIE}=${"A".repeat(43)}`, `${SESSION_COOKIE}=`, `${SESSION_COOKIE}=${"A".repeat(5000)}`]) {
          expect(await signedIn(f.base, cookie), String(cookie).slice(0, 40)).toBe(false);
        }
        const login = await pageAt(f.base, "/login?return_to=%2Fuser", null);
        expect(login.status).toBe(200);
        expectPageHeaders(login.headers, "GET /login");
        expect(formFields(login.html, "/login").return_to).toBe("/user");
        // Writes without a session do nothing either.
        const write = await submit(f.base, "/user/tokens", null, { name: "nope", csrf_token: "x" });
        expect(write.status).toBe(303);
        expect(write.headers.get("location")).toBe("/login?return_to=%2Fuser");
      });

      it("sign-in sets a host-only session cookie (HttpOnly, SameSite=Lax, Path=/); every sign-in gets a new id and ends the session it replaces", async () => {
        const jar = new CookieJar();
        const page = await get(f.base, "/login", jar);
        jar.absorb(page);
        const fields = formFields(await page.text(), "/login");

        const first = await submit(f.base, "/login", jar, { ...fields, email: "alice@example.com", password: PASSWORD });
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
        const elsewhere = await signIn(f.base, "alice@example.com", PASSWORD);
        expect(cookieValue(elsewhere, SESSION_COOKIE)).not.toBe(firstSession);

        // Signing in again over a live session (or over a planted one): a new id, and the old one is dead.
        const again = await submit(f.base, "/login", jar, { ...fields, email: "alice@example.com", password: PASSWORD });
        expect(again.status).toBe(303);
        jar.absorb(again);
        const secondSession = cookieValue(jar, SESSION_COOKIE)!;
        expect(secondSession).toBeDefined();
        expect(secondSession).not.toBe(firstSession);
        expect(await signedIn(f.base, `${SESSION_COOKIE}=${firstSession}`), "the replaced session ended").toBe(false);
        expect(await signedIn(f.base, `${SESSION_COOKIE}=${secondSession}`)).toBe(true);
        expect(await signedIn(f.base, elsewhere), "the other browser's session lives on").toBe(true);

        // Session fixation: a value planted before sign-in is never adopted.
        const planted = `gh_login_csrf=${cookieValue(jar, "gh_login_csrf")}; ${SESSION_COOKIE}=${"P".repeat(43)}`;
        const fixation = await submit(f.base, "/login", planted, { ...fields, email: "alice@example.com", password: PASSWORD });
        expect(fixation.status).toBe(303);
        expect(sessionSetCookie(fixation)).toBeDefined();
        expect(sessionSetCookie(fixation)).not.toContain("P".repeat(43));
      });

      it("on an http public URL (localhost development) the sign-in and setup CSRF cookies keep their plain names and no Secure flag", async () => {
        const login = (await get(f.base, "/login", null)).headers.getSetCookie();
        expect(login.filter((c) => c.startsWith("__Host-"))).toEqual([]);
        const loginCookie = login.find((c) => c.startsWith("gh_login_csrf="));
        expect(loginCookie).toMatch(/;\s*Path=\/(;|$)/i);
        expect(loginCookie).not.toMatch(/;\s*Secure/i);

        const user = await createUser(f.server.testDb.database.db, { email: "plain-cookies@example.com" });
        const link = await issueSetupLink(f.server.running.deps.kv, f.base, { kind: "set-password", userId: user.id });
        const setup = (await get(f.base, link.slice(f.base.length), null)).headers.getSetCookie();
        expect(setup.filter((c) => c.startsWith("__Host-"))).toEqual([]);
        const setupCookie = setup.find((c) => c.startsWith("gh_setup_csrf="));
        expect(setupCookie).toMatch(/;\s*Path=\/setup(;|$)/i);
        expect(setupCookie).not.toMatch(/;\s*Secure/i);
      });

      it("sign-out ends the session on the server: the old cookie no longer works for /user or /api", async () => {
        const jar = await signIn(f.base, "alice@example.com", PASSWORD);
        const session = cookieValue(jar, SESSION_COOKIE)!;
        const userPage = await pageAt(f.base, "/user", jar);
        const fields = formFields(userPage.html, "/logout");
        expect(fields.csrf_token).toBeTruthy();

        const out = await submit(f.base, "/logout", jar, fields);
        expect(out.status).toBe(303);
        expect(out.headers.get("location")).toBe("/login?return_to=%2Fuser");
        const cleared = out.headers.getSetCookie().find((c) => c.startsWith(`${SESSION_COOKIE}=`));
        expect(cleared, "the cookie is cleared in the browser").toMatch(/max-age=0|expires=thu, 01 jan 1970/i);
        jar.absorb(out);
        expect(cookieValue(jar, SESSION_COOKIE)).toBeUndefined();

        // A copy of the cookie (another tab, a stolen value) no longer works: the session is gone server-side.
        const stale = `${SESSION_COOKIE}=${session}`;
        expect(await signedIn(f.base, stale)).toBe(false);
        expectApiError(await api(f.base, "/me", { cookie: stale }), 401, "unauthenticated");
        const write = await submit(f.base, "/user/tokens", stale, { name: "after logout", csrf_token: formFields(userPage.html, "/user/tokens").csrf_token! });
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
        await createUser(f.server.testDb.database.db, { email: "passwordless@example.com" });
        const jar = new CookieJar();
        const page = await get(f.base, "/login", jar);
        jar.absorb(page);
        const fields = formFields(await page.text(), "/login");
        const answers: { label: string; status: number; alert: string; text: string }[] = [];
        for (const [label, email, password] of [
          ["wrong password", "alice@example.com", "not the password"],
          ["unknown email", "nobody@example.com", "not the password"],
          ["no password set", "passwordless@example.com", "not the password"],
          ["not an email at all", "nobody", "not the password"],
        ] as const) {
          const response = await submit(f.base, "/login", jar, { ...fields, email, password });
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
        const origin = new URL(f.base).origin;
        const jar = new CookieJar();
        const page = await get(f.base, "/login", jar);
        jar.absorb(page);
        const fields = formFields(await page.text(), "/login");
        for (const returnTo of offsite) {
          const form = await pageAt(f.base, `/login?${new URLSearchParams({ return_to: returnTo })}`, null);
          expect(formFields(form.html, "/login").return_to, JSON.stringify(returnTo)).toBe("/user");

          const response = await submit(f.base, "/login", jar, { ...fields, return_to: returnTo, email: "alice@example.com", password: PASSWORD });
          expect(response.status, JSON.stringify(returnTo)).toBe(303);
          const location = response.headers.get("location")!;
          // Resolved as a browser resolves it (WHATWG URL: backslashes, tabs and newlines included).
          expect(new URL(location, f.base).origin, `${JSON.stringify(returnTo)} → ${location}`).toBe(origin);
          expect(location, JSON.stringify(returnTo)).toBe("/user");
          jar.absorb(response);

          const visit = await get(f.base, `/login?${new URLSearchParams({ return_to: returnTo })}`, jar);
          expect(visit.status, JSON.stringify(returnTo)).toBe(303);
          expect(new URL(visit.headers.get("location")!, f.base).origin, JSON.stringify(returnTo)).toBe(origin);
        }
        // A same-origin path is kept, query included.
        const kept = await submit(f.base, "/login", jar, { ...fields, return_to: "/oauth/authorize?client_id=a&state=b", email: "alice@example.com", password: PASSWORD });
        expect(kept.headers.get("location")).toBe("/oauth/authorize?client_id=a&state=b");
        jar.absorb(kept);
        // Sign-out's return_to is held to the same rule.
        const logout = formFields((await pageAt(f.base, "/user", jar)).html, "/logout");
        const out = await submit(f.base, "/logout", jar, { ...logout, return_to: "//evil.example" });
        expect(out.status).toBe(303);
        expect(out.headers.get("location")).toBe("/login?return_to=%2Fuser");
      });
    });

    describe("every console form refuses a missing or wrong CSRF token and a cross-site request", () => {
      it("POST /login: no session is created", async () => {
        const jar = new CookieJar();
        const page = await get(f.base, "/login", jar);
        jar.absorb(page);
        const fields = { ...formFields(await page.text(), "/login"), email: "alice@example.com", password: PASSWORD };
        const cases: [string, Cookie, Record<string, string>, Record<string, string>][] = [
          ["no csrf_token", jar, { ...fields, csrf_token: "" }, {}],
          ["a wrong csrf_token", jar, { ...fields, csrf_token: "B".repeat(43) }, {}],
          ["no CSRF cookie", null, fields, {}],
          ...CROSS_SITE.map(([label, headers]): [string, Cookie, Record<string, string>, Record<string, string>] => [label, jar, fields, headers]),
        ];
        for (const [label, cookie, body, headers] of cases) {
          const response = await submit(f.base, "/login", cookie, body, headers);
          expect(response.status, label).toBe(403);
          expect(sessionSetCookie(response), label).toBeUndefined();
        }
        // The same form, untouched, works.
        expect((await submit(f.base, "/login", jar, fields)).status).toBe(303);
      });

      it("POST /logout: the session lives on", async () => {
        const jar = await signIn(f.base, "alice@example.com", PASSWORD);
        const fields = formFields((await pageAt(f.base, "/user", jar)).html, "/logout");
        const create = formFields((await pageAt(f.base, "/user", jar)).html, "/user/tokens");
        const cases: [string, Record<string, string>, Record<string, string>][] = [
          ["no csrf_token", { ...fields, csrf_token: "" }, {}],
          ["a wrong csrf_token", { ...fields, csrf_token: "C".repeat(43) }, {}],
          ["another form's csrf_token", { ...fields, csrf_token: create.csrf_token! }, {}],
          ...CROSS_SITE.map(([label, headers]): [string, Record<string, string>, Record<string, string>] => [label, fields, headers]),
        ];
        for (const [label, body, headers] of cases) {
          const response = await submit(f.base, "/logout", jar, body, headers);
          expect(response.status, label).toBe(403);
          expect(response.headers.getSetCookie().filter((c) => c.startsWith(`${SESSION_COOKIE}=`)), label).toEqual([]);
          expect(await signedIn(f.base, jar), label).toBe(true);
        }
      });

      it("POST /user/tokens (create a key): nothing is created", async () => {
        const jar = await signIn(f.base, "bob@example.com", PASSWORD);
        const html = (await pageAt(f.base, "/user", jar)).html;
        const fields = { ...formFields(html, "/user/tokens"), name: "csrf probe" };
        const otherSession = formFields((await pageAt(f.base, "/user", f.aliceJar)).html, "/user/tokens").csrf_token!;
        const cases: [string, Record<string, string>, Record<string, string>][] = [
          ["no csrf_token", { ...fields, csrf_token: "" }, {}],
          ["a wrong csrf_token", { ...fields, csrf_token: "D".repeat(43) }, {}],
          ["the logout form's csrf_token", { ...fields, csrf_token: formFields(html, "/logout").csrf_token! }, {}],
          ["another session's csrf_token", { ...fields, csrf_token: otherSession }, {}],
          ...CROSS_SITE.map(([label, headers]): [string, Record<string, string>, Record<string, string>] => [label, fields, headers]),
        ];
        for (const [label, body, headers] of cases) {
          const response = await submit(f.base, "/user/tokens", jar, body, headers);
          expect(response.status, label).toBe(403);
          expect(response.headers.get("location"), label).toBeNull();
          expect(await response.text(), label).not.toMatch(/ghk_/);
        }
        expect((await f.credentials(jar)).filter((c) => c.name === "csrf probe")).toEqual([]);
        expect((await pageAt(f.base, "/user", jar)).html, "no key is waiting to be shown either").not.toMatch(/id="new-key|ghk_/);
      });
    });

  });
}
