/**
 * The authorization endpoint and consent (SPEC-CHECKLIST AZ-1..AZ-23;
 * THREATS 1-7, 34-37) and console sign-in: nothing is redirected before
 * the client and redirect URI are verified; afterwards errors go back with
 * `state` and `iss`; the consent decision is bound to the session, the CSRF
 * token and the stored request, and goes only to the verified URI.
 * Client ID Metadata Documents are in authorize-cimd.test.ts; GATEHOUSE_ERROR_REDIRECTS=trusted
 * in authorize-error-redirects.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { drivers } from "../helpers/databases.js";
import {
  CookieJar, expectErrorPage, formFields, openAuthorize, pkce, postDecision, registerClient, signIn, tokenRequest, visibleText,
  type ClientRegistration,
} from "../helpers/oauth.js";
import { startTestServer, type TestServer } from "../helpers/server.js";

const WEB = "https://app.example/cb";
const LOOPBACK = "http://127.0.0.1:3000/cb";
const LOOPBACK_WARNING = /(your own|this) (computer|device|machine)/i;
const PASSWORD = "correct horse battery";

// ---- helpers --------------------------------------------------------------------------------------
type Params = [string, string][];

function location(response: Response): URL {
  expect(response.status).toBe(303);
  return new URL(response.headers.get("location")!);
}

const withoutQuery = (url: URL) => `${url.origin}${url.pathname}`;

for (const driver of drivers()) {
  describe(`authorization endpoint (${driver})`, () => {
    let server: TestServer, base: string, alice: CookieJar, bob: CookieJar;
    let web: ClientRegistration, loop: ClientRegistration, local: ClientRegistration;
    let v6: ClientRegistration, two: ClientRegistration, withQuery: ClientRegistration;

    /** A valid request for `client`, with overrides (null removes a parameter). */
    function request(client: ClientRegistration, overrides: Record<string, string | null> = {}, redirectUri = client.redirect_uris[0]!): Params {
      const params: Record<string, string | null> = {
        response_type: "code", client_id: client.client_id, redirect_uri: redirectUri, code_challenge: pkce().challenge,
        code_challenge_method: "S256", state: "st", resource: `${base}/mcp`, ...overrides,
      };
      return Object.entries(params).filter((e): e is [string, string] => e[1] !== null);
    }
    const open = (jar: CookieJar | null, params: Params, headers: Record<string, string> = {}) => openAuthorize(base, jar, params, headers);
    /** GET the consent page as `jar`: 200 expected. */
    async function consent(jar: CookieJar, params: Params) {
      const response = await open(jar, params);
      const html = await response.text();
      expect(response.status, html.slice(0, 300)).toBe(200);
      return { response, html, fields: formFields(html, "/oauth/authorize") };
    }
    async function expectRedirectError(params: Params, error: string, state: string | null = "st") {
      const url = location(await open(alice, params));
      const sent = new URLSearchParams(params);
      expect(withoutQuery(url)).toBe(withoutQuery(new URL(sent.get("redirect_uri") ?? WEB)));
      expect(url.searchParams.get("error")).toBe(error);
      if (state !== null) expect(url.searchParams.get("state")).toBe(state);
      expect(url.searchParams.get("iss")).toBe(base);
      expect(url.searchParams.has("code")).toBe(false);
    }

    beforeAll(async () => {
      server = await startTestServer(driver, { appDeps: { toolScopes: ["notes:read"] } });
      base = server.base;
      await server.addUser("alice@example.com", PASSWORD);
      await server.addUser("bob@example.com", PASSWORD);
      alice = await signIn(base, "alice@example.com", PASSWORD);
      bob = await signIn(base, "bob@example.com", PASSWORD);
      web = await registerClient(base, { client_name: "Web Client", redirect_uris: [WEB] });
      loop = await registerClient(base, { client_name: "Loop Client", redirect_uris: [LOOPBACK] });
      local = await registerClient(base, { client_name: "Local Client", redirect_uris: ["http://localhost:3000/cb"] });
      v6 = await registerClient(base, { client_name: "V6 Client", redirect_uris: ["http://[::1]:8080/cb"] });
      two = await registerClient(base, { client_name: "Two URIs", redirect_uris: ["https://app.example/one", "https://app.example/two"] });
      withQuery = await registerClient(base, { client_name: "Query", redirect_uris: ["https://app.example/cb?tenant=7"] });
    });
    afterAll(async () => server?.close());

    describe("errors before the redirect URI is verified: a page, never a redirect (AZ-2, AZ-4, THREATS 1, 2)", () => {
      for (const signedIn of [true, false]) {
        const who = signedIn ? "signed in" : "signed out";
        it(`unknown client_id, with or without an attacker redirect_uri (${who})`, async () => {
          const jar = signedIn ? alice : null;
          await expectErrorPage(await open(jar, request(web, { client_id: "gh_doesnotexist" })));
          await expectErrorPage(await open(jar, request(web, { client_id: "gh_doesnotexist", redirect_uri: "https://evil.example/cb" })));
        });
        it(`missing client_id (${who})`, async () => {
          await expectErrorPage(await open(signedIn ? alice : null, request(web, { client_id: null })));
        });
        it(`unregistered redirect_uri (${who})`, async () => {
          for (const uri of ["https://evil.example/cb", "javascript:alert(1)", "https://app.example/cb#x", "https://app.example.evil.example/cb"]) {
            await expectErrorPage(await open(signedIn ? alice : null, request(web, {}, uri)));
          }
        });
        it(`missing redirect_uri with two registered (${who})`, async () => {
          await expectErrorPage(await open(signedIn ? alice : null, request(two, { redirect_uri: null })));
        });
      }

      it("an error even on an otherwise broken request (no response_type, no PKCE) is still a page", async () => {
        await expectErrorPage(await open(alice, request(web, { response_type: "token", code_challenge: null }, "https://evil.example/cb")));
      });

      it("a repeated client_id or redirect_uri is a page", async () => {
        await expectErrorPage(await open(alice, [...request(web), ["client_id", web.client_id]]));
        await expectErrorPage(await open(alice, [...request(web), ["redirect_uri", "https://evil.example/cb"]]));
      });

      it("AZ-4: with exactly one registered URI, redirect_uri may be omitted", async () => {
        const { fields } = await consent(alice, request(web, { redirect_uri: null }));
        const url = location(await postDecision(base, alice, { ...fields, decision: "approve" }));
        expect(withoutQuery(url)).toBe(WEB);
      });
    });

    describe("redirect URI matching (AZ-3, THREATS 5)", () => {
      const cases: [string, () => ClientRegistration, string, boolean][] = [
        ["loopback 127.0.0.1, another port", () => loop, "http://127.0.0.1:49152/cb", true],
        ["loopback 127.0.0.1, no port", () => loop, "http://127.0.0.1/cb", true],
        ["loopback localhost, another port", () => local, "http://localhost:5555/cb", true],
        ["loopback [::1], another port", () => v6, "http://[::1]:9090/cb", true],
        ["127.0.0.1 registered, localhost presented", () => loop, "http://localhost:3000/cb", false],
        ["localhost registered, 127.0.0.1 presented", () => local, "http://127.0.0.1:3000/cb", false],
        ["127.0.0.1 registered, [::1] presented", () => loop, "http://[::1]:3000/cb", false],
        ["trailing slash", () => loop, "http://127.0.0.1:3000/cb/", false],
        ["added query on loopback", () => loop, "http://127.0.0.1:3000/cb?x=1", false],
        ["other path case", () => loop, "http://127.0.0.1:3000/CB", false],
        ["127.1 shorthand", () => loop, "http://127.1:3000/cb", false],
        ["https instead of http on loopback", () => loop, "https://127.0.0.1:3000/cb", false],
        ["loopback look-alike host", () => local, "http://localhost.evil.example:3000/cb", false],
        ["loopback path traversal", () => loop, "http://127.0.0.1:3000/cb/..;/evil", false],
        ["userinfo smuggling", () => local, "http://localhost:3000%25@evil.example/cb", false],
        ["https added query", () => web, "https://app.example/cb?x=1", false],
        ["https trailing slash", () => web, "https://app.example/cb/", false],
        ["https other port (only loopback ports may vary)", () => web, "https://app.example:8443/cb", false],
        ["https host case", () => web, "https://APP.example/cb", false],
        ["https dot segment", () => web, "https://app.example/x/../cb", false],
        ["registered query dropped", () => withQuery, "https://app.example/cb", false],
      ];
      for (const [name, client, uri, ok] of cases) {
        it(`${ok ? "accepts" : "rejects"} ${name}: ${uri}`, async () => {
          const response = await open(alice, request(client(), {}, uri));
          if (ok) expect(response.status).toBe(200);
          else await expectErrorPage(response);
        });
      }

      it("RFC 8252 §7.3: the code goes to the port the client presented", async () => {
        const { fields } = await consent(alice, request(loop, {}, "http://127.0.0.1:49152/cb"));
        const url = location(await postDecision(base, alice, { ...fields, decision: "approve" }));
        expect(withoutQuery(url)).toBe("http://127.0.0.1:49152/cb");
        expect(url.searchParams.get("code")).toBeTruthy();
      });
    });

    describe("errors after verification go back with error, state and iss (AZ-5..AZ-13, THREATS 7-9)", () => {
      const cases: [string, Record<string, string | null>, string][] = [
        ["response_type=token", { response_type: "token" }, "unsupported_response_type"],
        ["response_type=code token", { response_type: "code token" }, "unsupported_response_type"],
        ["missing code_challenge", { code_challenge: null }, "invalid_request"],
        ["empty code_challenge (empty = omitted)", { code_challenge: "" }, "invalid_request"],
        ["malformed code_challenge (too short)", { code_challenge: "abc" }, "invalid_request"],
        ["code_challenge that is not base64url", { code_challenge: `${"a".repeat(42)}+` }, "invalid_request"],
        ["code_challenge_method=plain", { code_challenge_method: "plain" }, "invalid_request"],
        ["missing code_challenge_method (would mean plain)", { code_challenge_method: null }, "invalid_request"],
        ["code_challenge_method=s256 (case)", { code_challenge_method: "s256" }, "invalid_request"],
        ["resource on another origin", { resource: "https://other.example/mcp" }, "invalid_target"],
        ["resource with a fragment", { resource: "@BASE@/mcp#x" }, "invalid_target"],
        ["resource of another path", { resource: "@BASE@/mcp-other" }, "invalid_target"],
        ["relative resource", { resource: "/mcp" }, "invalid_target"],
        ["scope=nonexistent", { scope: "nonexistent" }, "invalid_scope"],
        ["a known scope beside an unknown one", { scope: "mcp nonexistent" }, "invalid_scope"],
      ];
      for (const [name, overrides, error] of cases) {
        it(`${name} → ${error}`, async () => {
          await expectRedirectError(request(web, Object.fromEntries(Object.entries(overrides).map(([k, v]) => [k, v?.replace("@BASE@", base) ?? null]))), error);
        });
      }

      it("a missing response_type is an error too", async () => {
        const url = location(await open(alice, request(web, { response_type: null })));
        expect(["unsupported_response_type", "invalid_request"]).toContain(url.searchParams.get("error"));
        expect(url.searchParams.get("iss")).toBe(base);
        expect(url.searchParams.get("state")).toBe("st");
      });

      it("AZ-1: a repeated state, scope, resource or code_challenge → invalid_request", async () => {
        await expectRedirectError([...request(web, { state: "a" }), ["state", "b"]], "invalid_request", null);
        await expectRedirectError([...request(web, { scope: "mcp" }), ["scope", "mcp"]], "invalid_request");
        await expectRedirectError([...request(web), ["resource", `${base}/mcp`]], "invalid_request");
        await expectRedirectError([...request(web), ["code_challenge", pkce().challenge]], "invalid_request");
      });

      it("the error redirect keeps the state exactly and never carries the code_challenge (AZ-8, AZ-11)", async () => {
        const state = "a b+c&d=e#f/ü%";
        const params = request(web, { state, code_challenge_method: "plain" });
        const response = await open(alice, params);
        const url = location(response);
        expect(url.searchParams.get("state")).toBe(state);
        const challenge = new URLSearchParams(params).get("code_challenge")!;
        expect(response.headers.get("location")).not.toContain(challenge);
        expect(url.hash).toBe("");
      });

      it("AZ-1: unknown parameters are ignored and an empty scope counts as omitted", async () => {
        await consent(alice, [...request(web), ["foo", "bar"], ["prompt", "none"]]);
        await consent(alice, request(web, { scope: "" }));
      });
    });

    describe("sign-in first (AZ-21, PRODUCT §6)", () => {
      it("a valid request without a session → 303 to /login with return_to, never to the client; sign-in returns there", async () => {
        const params = request(web);
        const response = await open(null, params);
        expect(response.status).toBe(303);
        const login = new URL(response.headers.get("location")!, base);
        expect(login.origin).toBe(new URL(base).origin);
        expect(login.pathname).toBe("/login");
        const returnTo = new URL(login.searchParams.get("return_to")!, base);
        expect(returnTo.origin).toBe(new URL(base).origin);
        expect(returnTo.pathname).toBe("/oauth/authorize");
        expect([...returnTo.searchParams]).toEqual(params);

        const jar = new CookieJar();
        const page = await fetch(login, { headers: { cookie: jar.header() } });
        jar.absorb(page);
        const fields = formFields(await page.text(), "/login");
        const signedIn = await fetch(`${base}/login`, {
          method: "POST", redirect: "manual",
          headers: { "content-type": "application/x-www-form-urlencoded", cookie: jar.header() },
          body: new URLSearchParams({ ...fields, email: "alice@example.com", password: PASSWORD }),
        });
        jar.absorb(signedIn);
        expect(signedIn.status).toBe(303);
        const back = new URL(signedIn.headers.get("location")!, base);
        expect(back.href).toBe(returnTo.href);
        const consentPage = await fetch(back, { headers: { cookie: jar.header() }, redirect: "manual" });
        expect(consentPage.status).toBe(200);
      });

      it("OAuth 2.1 §7.13.2 / RFC 9700 §4.11.2: a signed-out browser is never redirected to the client, not even with an error", async () => {
        // Open registration lets anyone register a phishing redirect URI; an error redirect to it before sign-in makes us an open redirector.
        const invalid: Record<string, string | null>[] = [{ scope: "nonexistent" }, { response_type: "token" }, { code_challenge: null }, { resource: "https://x.example/mcp" }];
        for (const overrides of invalid) {
          const response = await open(null, request(web, overrides));
          const target = response.headers.get("location");
          const sameOrigin = target === null || new URL(target, base).origin === new URL(base).origin;
          expect(sameOrigin, `${JSON.stringify(overrides)} → ${response.status} ${target}`).toBe(true);
        }
      });
    });

    describe("long and noisy requests: every Location stays a size clients accept", () => {
      // undici (fetch) and common proxies refuse response headers past 16 KB; a request echoed into one must stay well below.
      const HEADER_BUDGET = 12 * 1024;

      it("signed out: the sign-in link carries only the parameters this endpoint reads, not the noise around them", async () => {
        const noise: Params = Array.from({ length: 30 }, (_, i) => [`x${i}`, "n".repeat(300)]);
        const params = request(web);
        const response = await open(null, [...params, ...noise]);
        expect(response.status).toBe(303);
        const target = response.headers.get("location")!;
        expect(target.length).toBeLessThan(HEADER_BUDGET);
        const returnTo = new URL(new URL(target, base).searchParams.get("return_to")!, base);
        expect([...returnTo.searchParams]).toEqual(params);
      });

      it("signed out: repeated parameters survive sign-in, so they are still refused afterwards", async () => {
        const response = await open(null, [...request(web, { state: "a" }), ["state", "b"]]);
        const returnTo = new URL(new URL(response.headers.get("location")!, base).searchParams.get("return_to")!, base);
        expect(returnTo.searchParams.getAll("state")).toEqual(["a", "b"]);
      });

      for (const signedIn of [false, true]) {
        it(`an oversized state is a 414 page, never echoed into a Location (${signedIn ? "signed in" : "signed out"})`, async () => {
          // Percent-encoding triples it; encoding again for return_to would pass 16 KB.
          const state = "é".repeat(1300);
          const body = await expectErrorPage(await open(signedIn ? alice : null, request(web, { state, response_type: "token" })), 414);
          expect(visibleText(body)).toMatch(/too long/i);
          expect(body).not.toContain("ééé");
        });
      }

      it("a state just under the limit still completes the flow and comes back exactly", async () => {
        const state = "s".repeat(4000);
        const { fields } = await consent(alice, request(web, { state }));
        const response = await postDecision(base, alice, { ...fields, decision: "approve" });
        expect(response.headers.get("location")!.length).toBeLessThan(HEADER_BUDGET);
        expect(location(response).searchParams.get("state")).toBe(state);
      });
    });

    describe("the consent page (AZ-14, AZ-16, AZ-20, AZ-22, AZ-23, THREATS 6, 37)", () => {
      it("cannot be framed, sends no Referer, loads nothing from elsewhere, and is not cached", async () => {
        const { response, html } = await consent(alice, request(web));
        expect(response.headers.get("content-type")).toMatch(/^text\/html/);
        const csp = response.headers.get("content-security-policy") ?? "";
        expect(csp).toContain("frame-ancestors 'none'");
        expect(response.headers.get("x-frame-options")).toBe("DENY");
        expect(response.headers.get("referrer-policy")).toBe("no-referrer");
        expect(response.headers.get("cache-control")).toMatch(/no-store/);
        for (const directive of csp.split(";").map((d) => d.trim().split(/\s+/))) {
          if (!/^(default|script|img|style|connect|font|frame|media|object)-src$/.test(directive[0] ?? "")) continue;
          for (const source of directive.slice(1)) expect(source, directive.join(" ")).not.toMatch(/^(\*|https?:|\w+:\/\/|\*\.)/);
        }
        expect(html).not.toMatch(/<(script|img|link|iframe|source|embed|object)\b[^>]*\b(src|href|data)\s*=\s*["']?(https?:)?\/\//i);
      });

      it("THREATS 6 / AZ-16: consent, login and error pages send a strict CSP (no inline or external script) and cannot be framed", async () => {
        const pages = {
          consent: (await consent(alice, request(web))).response,
          login: await fetch(`${base}/login`),
          error: await open(alice, request(web, { client_id: "gh_unknown" })),
        };
        const policies = Object.entries(pages).map(([name, response]) => {
          const csp = new Map((response.headers.get("content-security-policy") ?? "").split(";").map((d) => {
            const [directive = "", ...sources] = d.trim().split(/\s+/);
            return [directive, sources] as const;
          }));
          expect(csp.get("frame-ancestors"), name).toEqual(["'none'"]);
          expect(response.headers.get("x-frame-options"), name).toBe("DENY");
          return [name, csp.get("script-src") ?? csp.get("default-src") ?? ["*"]] as const;
        });
        for (const [name, script] of policies) {
          expect(script, `${name} script-src`).not.toContain("'unsafe-inline'");
          expect(script, `${name} script-src`).not.toContain("'unsafe-eval'");
          for (const source of script) expect(source, `${name} script-src`).not.toMatch(/^(\*|https?:|data:|\w+:\/\/)/);
        }
      });

      it("shows the client name, the redirect host and a tool scope by name", async () => {
        const text = visibleText((await consent(alice, request(web, { scope: "mcp notes:read" }))).html);
        expect(text).toContain("Web Client");
        expect(text).toContain("app.example");
        expect(text).toMatch(/\bnotes:read\b/);
      });

      it("AZ-14: names every requested scope, mcp included (a description alone does not say what is granted)", async () => {
        expect(visibleText((await consent(alice, request(web, { scope: "mcp" }))).html)).toMatch(/\bmcp\b/);
      });

      it("warns about a loopback redirect, and not about an https one", async () => {
        expect(visibleText((await consent(alice, request(loop))).html)).toMatch(LOOPBACK_WARNING);
        expect(visibleText((await consent(alice, request(web))).html)).not.toMatch(LOOPBACK_WARNING);
      });

      it("escapes a hostile client name and state in the HTML, and percent-encodes the state in the redirect", async () => {
        const xss = await registerClient(base, { client_name: "<img src=x onerror=alert(1)>", redirect_uris: [WEB] });
        const state = "<script>alert(1)</script>\"'";
        const { html, fields } = await consent(alice, request(xss, { state }));
        expect(html).not.toContain("<script>alert(1)");
        expect(html).not.toMatch(/<img[^>]*onerror/i);
        expect(visibleText(html)).toContain("<img src=x onerror=alert(1)>");
        const response = await postDecision(base, alice, { ...fields, decision: "approve" });
        const raw = response.headers.get("location")!;
        expect(raw).not.toMatch(/[<>"' ]/);
        expect(location(response).searchParams.get("state")).toBe(state);
      });

      it("AZ-20: no CORS on the authorization endpoint", async () => {
        const response = await open(alice, request(web), { origin: "https://app.example" });
        expect(response.status).toBe(200);
        expect(response.headers.get("access-control-allow-origin")).toBeNull();
      });

      it("AZ-15 / THREATS 34: a client already approved is asked again, not silently redirected", async () => {
        const first = await consent(alice, request(web));
        location(await postDecision(base, alice, { ...first.fields, decision: "approve" }));
        await consent(alice, request(web));
      });
    });

    describe("the decision (AZ-8, AZ-9, AZ-11, AZ-13, AZ-17, AZ-19, THREATS 3, 35, 36)", () => {
      it("approve → 303 to the registered URI with code, the exact state and iss, and no code_challenge; the code works", async () => {
        const { verifier, challenge } = pkce();
        const { fields } = await consent(alice, request(web, { state: "a b+c", code_challenge: challenge }));
        const response = await postDecision(base, alice, { ...fields, decision: "approve" });
        expect(response.status).toBe(303);
        const url = location(response);
        expect(withoutQuery(url)).toBe(WEB);
        expect(url.searchParams.get("state")).toBe("a b+c");
        expect(url.searchParams.get("iss")).toBe(base);
        expect(url.searchParams.get("code")).toMatch(/^[A-Za-z0-9_~.-]{22,}$/);
        expect([...url.searchParams.keys()].sort()).toEqual(["code", "iss", "state"]);
        expect(response.headers.get("location")).not.toContain(challenge);
        const tokens = await tokenRequest(base, {
          grant_type: "authorization_code", code: url.searchParams.get("code")!, code_verifier: verifier,
          client_id: web.client_id, redirect_uri: WEB, resource: `${base}/mcp`,
        });
        expect(tokens.status).toBe(200);
        expect(tokens.body.access_token).toEqual(expect.any(String));
      });

      it("keeps the registered URI's own query (RFC 6749 §3.1.2)", async () => {
        const { fields } = await consent(alice, request(withQuery));
        const url = location(await postDecision(base, alice, { ...fields, decision: "approve" }));
        expect(withoutQuery(url)).toBe("https://app.example/cb");
        expect(url.searchParams.get("tenant")).toBe("7");
        expect(url.searchParams.get("code")).toBeTruthy();
      });

      it("AZ-8: without a state in the request, none appears in the response", async () => {
        for (const decision of ["approve", "deny"]) {
          const { fields } = await consent(alice, request(web, { state: null }));
          const url = location(await postDecision(base, alice, { ...fields, decision }));
          expect(url.searchParams.has("state"), decision).toBe(false);
          expect(url.searchParams.get("iss"), decision).toBe(base);
        }
      });

      it("deny → 303 with error=access_denied, state and iss, and no code", async () => {
        const { fields } = await consent(alice, request(web, { state: "a b+c" }));
        const url = location(await postDecision(base, alice, { ...fields, decision: "deny" }));
        expect(withoutQuery(url)).toBe(WEB);
        expect(url.searchParams.get("error")).toBe("access_denied");
        expect(url.searchParams.get("state")).toBe("a b+c");
        expect(url.searchParams.get("iss")).toBe(base);
        expect(url.searchParams.has("code")).toBe(false);
      });

      const smuggled = {
        redirect_uri: "https://evil.example/cb", client_id: "gh_other", state: "evil", scope: "notes:read",
        response_mode: "fragment", resource: "https://evil.example/mcp", code_challenge: "x".repeat(43),
      };
      for (const decision of ["deny", "approve"]) {
        it(`THREATS 3: ${decision} with a smuggled redirect_uri (and other extra fields) goes only to the verified URI`, async () => {
          const { fields } = await consent(alice, request(web));
          const response = await postDecision(base, alice, { ...smuggled, ...fields, decision });
          const url = location(response);
          expect(withoutQuery(url)).toBe(WEB);
          expect(url.searchParams.get("state")).toBe("st");
          expect(url.hash).toBe("");
          expect(response.headers.get("location")).not.toContain("evil");
        });
      }

      it("AZ-17: a missing or wrong CSRF token → 403 and no code", async () => {
        const { fields } = await consent(alice, request(web));
        const other = await consent(alice, request(web));
        const { csrf_token: _dropped, ...withoutToken } = fields;
        const flipped = `${fields.csrf_token!.slice(0, -1)}${fields.csrf_token!.endsWith("A") ? "B" : "A"}`;
        for (const body of [withoutToken, { ...fields, csrf_token: flipped }, { ...fields, csrf_token: "" }, { ...fields, csrf_token: other.fields.csrf_token! }]) {
          const response = await postDecision(base, alice, { ...body, decision: "approve" });
          await expectErrorPage(response, 403);
        }
      });

      it("THREATS 35: another user's session with this user's request id and CSRF token → 403", async () => {
        const a = await consent(alice, request(web));
        const b = await consent(bob, request(web));
        await expectErrorPage(await postDecision(base, bob, { ...a.fields, decision: "approve" }), 403);
        await expectErrorPage(await postDecision(base, bob, { request_id: a.fields.request_id!, csrf_token: b.fields.csrf_token!, decision: "approve" }), 403);
        const signedOut = await postDecision(base, null, { ...a.fields, decision: "approve" });
        expect(signedOut.status).toBeGreaterThanOrEqual(400);
        expect(signedOut.status).toBeLessThan(500);
        expect(signedOut.headers.get("location")).toBeNull();
      });

      it("a replayed decision issues no second code, also when sent concurrently", async () => {
        const first = await consent(alice, request(web));
        expect(location(await postDecision(base, alice, { ...first.fields, decision: "approve" })).searchParams.get("code")).toBeTruthy();
        const again = await postDecision(base, alice, { ...first.fields, decision: "approve" });
        expect(again.status).toBeGreaterThanOrEqual(400);
        expect(again.headers.get("location")).toBeNull();
        const denyAfter = await postDecision(base, alice, { ...first.fields, decision: "deny" });
        expect(denyAfter.headers.get("location")).toBeNull();

        const second = await consent(alice, request(web));
        const racing = await Promise.all(Array.from({ length: 5 }, () => postDecision(base, alice, { ...second.fields, decision: "approve" })));
        const codes = racing.map((r) => r.headers.get("location")).filter((l) => l !== null && new URL(l).searchParams.has("code"));
        expect(codes).toHaveLength(1);
      });

      it("THREATS 36: two consent tabs in one session each complete with their own code", async () => {
        const tab1 = await consent(alice, request(web, { state: "one" }));
        const tab2 = await consent(alice, request(web, { state: "two" }));
        const url2 = location(await postDecision(base, alice, { ...tab2.fields, decision: "approve" }));
        const url1 = location(await postDecision(base, alice, { ...tab1.fields, decision: "approve" }));
        expect(url1.searchParams.get("state")).toBe("one");
        expect(url2.searchParams.get("state")).toBe("two");
        expect(url1.searchParams.get("code")).not.toBe(url2.searchParams.get("code"));
      });

      it("a cross-site POST (Sec-Fetch-Site or Origin) → 403 and no code", async () => {
        const { fields } = await consent(alice, request(web));
        await expectErrorPage(await postDecision(base, alice, { ...fields, decision: "approve" }, { "sec-fetch-site": "cross-site" }), 403);
        await expectErrorPage(await postDecision(base, alice, { ...fields, decision: "approve" }, { origin: "https://evil.example" }), 403);
      });

      it("a decision that is neither approve nor deny issues nothing", async () => {
        const { fields } = await consent(alice, request(web));
        const response = await postDecision(base, alice, { ...fields, decision: "maybe" });
        expect(response.status).toBe(400);
        expect(response.headers.get("location")).toBeNull();
      });
    });

    describe("console sign-in (AZ-18, PRODUCT §6)", () => {
      async function loginForm(jar: CookieJar) {
        const page = await fetch(`${base}/login`, { headers: { cookie: jar.header() }, redirect: "manual" });
        jar.absorb(page);
        return formFields(await page.text(), "/login");
      }
      const postLogin = (jar: CookieJar, fields: Record<string, string>) =>
        fetch(`${base}/login`, {
          method: "POST", redirect: "manual",
          headers: { "content-type": "application/x-www-form-urlencoded", cookie: jar.header() },
          body: new URLSearchParams(fields),
        });

      it("the session cookie is HttpOnly, SameSite=Lax, Path=/, host-only, not Secure on http, and new on every sign-in", async () => {
        const jar = new CookieJar();
        const fields = await loginForm(jar);
        const values: string[] = [];
        for (let i = 0; i < 2; i++) {
          const response = await postLogin(jar, { ...fields, email: "alice@example.com", password: PASSWORD });
          expect(response.status).toBe(303);
          const set = response.headers.getSetCookie().filter((c) => !/max-age=0|expires=thu, 01 jan 1970/i.test(c) && !/^[^=]+=;/.test(c));
          expect(set).toHaveLength(1);
          const cookie = set[0]!;
          expect(cookie).toMatch(/;\s*HttpOnly/i);
          expect(cookie).toMatch(/;\s*SameSite=Lax/i);
          expect(cookie).toMatch(/;\s*Path=\/(;|$)/i);
          expect(cookie).not.toMatch(/;\s*Domain=/i);
          expect(cookie).not.toMatch(/;\s*Secure/i);
          values.push(cookie.split(";")[0]!);
          jar.absorb(response);
        }
        expect(values[0]).not.toBe(values[1]);
      });

      it("AZ-18: on an https public URL the session cookie is __Host- prefixed and Secure as well", async () => {
        const secure = await startTestServer(driver, {
          config: { publicUrl: "https://gatehouse.example" },
          ...(driver === "postgres" ? { testDb: server.testDb } : {}),
        });
        try {
          if (driver === "pglite") await secure.addUser("alice@example.com", PASSWORD);
          const jar = new CookieJar();
          const page = await fetch(`${secure.running.url}/login`);
          jar.absorb(page);
          const response = await fetch(`${secure.running.url}/login`, {
            method: "POST", redirect: "manual",
            headers: { "content-type": "application/x-www-form-urlencoded", cookie: jar.header() },
            body: new URLSearchParams({ ...formFields(await page.text(), "/login"), email: "alice@example.com", password: PASSWORD }),
          });
          expect(response.status).toBe(303);
          const session = response.headers.getSetCookie().filter((c) => !/max-age=0/i.test(c));
          expect(session).toHaveLength(1);
          expect(session[0]).toMatch(/^__Host-[^=]+=[^;]+;/);
          for (const attribute of [/;\s*Secure/i, /;\s*HttpOnly/i, /;\s*SameSite=Lax/i, /;\s*Path=\/(;|$)/i]) expect(session[0]).toMatch(attribute);
          expect(session[0]).not.toMatch(/;\s*Domain=/i);
        } finally {
          await secure.close();
        }
      });

      it("a wrong password and an unknown email get the same answer", async () => {
        const jar = new CookieJar();
        const fields = await loginForm(jar);
        const wrong = await postLogin(jar, { ...fields, email: "alice@example.com", password: "wrong password" });
        const unknown = await postLogin(jar, { ...fields, email: "nobody@example.com", password: "wrong password" });
        expect(wrong.status).toBe(unknown.status);
        expect(wrong.status).toBeGreaterThanOrEqual(400);
        expect(wrong.headers.get("location")).toBeNull();
        const normal = (html: string, email: string) => html.replaceAll(email, "EMAIL");
        expect(normal(await wrong.text(), "alice@example.com")).toBe(normal(await unknown.text(), "nobody@example.com"));
        expect([...wrong.headers.getSetCookie(), ...unknown.headers.getSetCookie()]).toEqual([]);
      });

      it("a sign-in POST without the form's CSRF token is refused", async () => {
        const jar = new CookieJar();
        const fields = await loginForm(jar);
        const response = await postLogin(jar, { ...fields, csrf_token: "forged", email: "alice@example.com", password: PASSWORD });
        expect(response.status).toBe(403);
        expect(response.headers.get("location")).toBeNull();
      });

      const offsite = ["//evil.example", "https://evil.example", "/\\evil.example", "\\\\evil.example", "javascript:alert(1)",
        "http:evil.example", "//evil.example/%2F..", "/\t/evil.example", " //evil.example"];
      it("return_to never leads off-site, after sign-in or when already signed in", async () => {
        const jar = new CookieJar();
        const fields = await loginForm(jar);
        for (const returnTo of offsite) {
          const response = await postLogin(jar, { ...fields, return_to: returnTo, email: "alice@example.com", password: PASSWORD });
          expect(response.status, returnTo).toBe(303);
          const target = new URL(response.headers.get("location")!, base);
          expect(target.origin, returnTo).toBe(new URL(base).origin);
          jar.absorb(response);
          const again = await fetch(`${base}/login?${new URLSearchParams({ return_to: returnTo })}`, { headers: { cookie: jar.header() }, redirect: "manual" });
          if (again.status === 303) expect(new URL(again.headers.get("location")!, base).origin, returnTo).toBe(new URL(base).origin);
        }
        const page = await (await fetch(`${base}/login?return_to=${encodeURIComponent('/x"><script>alert(1)</script>')}`)).text();
        expect(page).not.toContain("<script>alert(1)");
      });
    });
  });
}
