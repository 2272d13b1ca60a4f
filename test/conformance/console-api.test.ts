/**
 * The console JSON API over HTTP (PRODUCT §5, §6): /api/me and /api/tokens
 * with the session cookie (writes need X-CSRF-Token and the same origin) or
 * a personal API key as bearer — never an MCP access or refresh token.
 */
import { describe, expect, it } from "vitest";
import { drivers } from "../helpers/databases.js";
import {
  CookieJar,
  expectRefreshRefused,
  formFields,
  mcpBearerStatus,
  mcpBearerStatusOnNode,
  mcpStatusAfterRevocation,
  mcpStatusAfterRevocationOnNode,
  refreshGrant,
} from "../helpers/oauth.js";
import {
  api,
  type ApiOptions,
  cookieHeader,
  type Credential,
  CROSS_SITE,
  expectApiError,
  get,
  pageAt,
  PASSWORD,
  SESSION_COOKIE,
  type Upload,
  uploadOnce,
  useConsoleFixture,
} from "../helpers/console.js";

for (const driver of drivers()) {
  describe(`console: /api (${driver})`, () => {
    const f = useConsoleFixture(driver);

    describe("/api", () => {
      it("GET /api/me with the session cookie (with a csrf_token) and with a personal API key (without one)", async () => {
        const me = await api(f.base, "/me", { cookie: f.aliceJar });
        expect(me.status, me.text).toBe(200);
        expect(me.headers.get("content-type")).toMatch(/^application\/json\b/);
        expect(me.headers.get("cache-control") ?? "").toMatch(/\bno-store\b/);
        expect(me.json).toEqual({ id: f.alice.id, email: "alice@example.com", csrf_token: expect.stringMatching(/^[A-Za-z0-9_-]{20,}$/) });

        const key = await f.newKey(f.aliceJar, "me probe");
        const viaKey = await api(f.base, "/me", { bearer: key.token });
        expect(viaKey.status, viaKey.text).toBe(200);
        expect(viaKey.json).toEqual({ id: f.alice.id, email: "alice@example.com" });
        // The bearer, when present, is what counts: a cookie beside it adds nothing.
        const both = await api(f.base, "/me", { bearer: key.token, cookie: f.bobJar });
        expect(both.json).toEqual({ id: f.alice.id, email: "alice@example.com" });

        expectApiError(await api(f.base, "/me"), 401, "unauthenticated");
        expect((await api(f.base, "/me")).headers.get("www-authenticate")).toMatch(/^Bearer\b/);
      });

      it("POST /api/tokens with the cookie needs the X-CSRF-Token from /api/me and a same-origin request", async () => {
        const csrf = await f.csrfOf(f.bobJar);
        const formToken = formFields((await pageAt(f.base, "/user", f.bobJar)).html, "/user/tokens").csrf_token!;
        const cases: [string, ApiOptions][] = [
          ["no X-CSRF-Token", {}],
          ["an empty X-CSRF-Token", { csrf: "" }],
          ["a wrong X-CSRF-Token", { csrf: "F".repeat(43) }],
          ["the /user form's token (another purpose)", { csrf: formToken }],
          ["alice's token", { csrf: await f.csrfOf(f.aliceJar) }],
          ...CROSS_SITE.map(([label, headers]): [string, ApiOptions] => [label, { csrf, headers }]),
        ];
        for (const [label, options] of cases) {
          const response = await api(f.base, "/tokens", { method: "POST", cookie: f.bobJar, body: { name: "csrf api probe" }, ...options });
          expect(response.status, label).toBe(403);
          expectApiError(response, 403, "csrf_failed");
        }
        expect((await f.credentials(f.bobJar)).filter((c) => c.name === "csrf api probe")).toEqual([]);
        const ok = await api(f.base, "/tokens", { method: "POST", cookie: f.bobJar, csrf, body: { name: "csrf api probe" } });
        expect(ok.status, ok.text).toBe(201);
      });

      it("POST /api/tokens returns the key once (ghk_…); GET lists it without the secret; it authenticates /api as bearer; DELETE → 204, then the key gets 401", async () => {
        const created = await api(f.base, "/tokens", { method: "POST", cookie: f.aliceJar, csrf: await f.csrfOf(f.aliceJar), body: { name: "  ci key  " } });
        expect(created.status, created.text).toBe(201);
        expect(created.headers.get("cache-control") ?? "").toMatch(/\bno-store\b/);
        const key = created.json as unknown as Credential & { token: string };
        expect(key.token).toMatch(/^ghk_[A-Za-z0-9_-]{40,}$/);
        expect(key).toMatchObject({ kind: "api_key", name: "ci key", client: null, lastUsedAt: null });
        const secret = key.token.slice(4);

        const list = await api(f.base, "/tokens", { cookie: f.aliceJar });
        expect(list.status).toBe(200);
        const listed = (list.json as { tokens: Credential[] }).tokens.find((t) => t.id === key.id);
        expect(listed).toMatchObject({ id: key.id, kind: "api_key", name: "ci key" });
        expect(listed).not.toHaveProperty("token");
        expect(list.text, "the secret is never listed").not.toContain(secret);
        expect((await pageAt(f.base, "/user", f.aliceJar)).html).not.toContain(secret);

        const viaKey = await api(f.base, "/tokens", { bearer: key.token });
        expect(viaKey.status).toBe(200);
        expect(viaKey.text).not.toContain(secret);
        expect((viaKey.json as { tokens: Credential[] }).tokens.find((t) => t.id === key.id)!.lastUsedAt, "use is recorded").not.toBeNull();
        // A key is not ambient authority: writes with it need no CSRF token.
        const second = await api(f.base, "/tokens", { method: "POST", bearer: key.token, body: { name: "made by a key" } });
        expect(second.status, second.text).toBe(201);

        const gone = await api(f.base, `/tokens/${key.id}`, { method: "DELETE", cookie: f.aliceJar, csrf: await f.csrfOf(f.aliceJar) });
        expect(gone.status, gone.text).toBe(204);
        expect(gone.text).toBe("");
        const refused = await api(f.base, "/me", { bearer: key.token });
        expectApiError(refused, 401, "invalid_token");
        expect(refused.headers.get("www-authenticate")).toMatch(/^Bearer\b/);
        expect((await f.credentials(f.aliceJar)).find((t) => t.id === key.id)).toBeUndefined();

        // A key can delete itself (bearer, no CSRF).
        const made = second.json as unknown as Credential & { token: string };
        expect((await api(f.base, `/tokens/${made.id}`, { method: "DELETE", bearer: made.token })).status).toBe(204);
        expectApiError(await api(f.base, "/me", { bearer: made.token }), 401, "invalid_token");
      });

      it("kinds never cross: an MCP access or refresh token at /api → 401, with or without a session cookie; a personal API key at /mcp → 401", async () => {
        const { access, refresh } = await f.connectAs(f.aliceJar);
        expect(access).toMatch(/^gha_/);
        expect(refresh).toMatch(/^ghr_/);
        for (const [label, token] of [["access token", access], ["refresh token", refresh]] as const) {
          expectApiError(await api(f.base, "/me", { bearer: token }), 401, "invalid_token");
          expectApiError(await api(f.base, "/tokens", { bearer: token }), 401, "invalid_token");
          const write = await api(f.base, "/tokens", { method: "POST", bearer: token, body: { name: `via ${label}` } });
          expectApiError(write, 401, "invalid_token");
          expectApiError(await api(f.base, "/me", { bearer: token, cookie: f.aliceJar }), 401, "invalid_token");
        }
        expect((await f.credentials(f.aliceJar)).filter((c) => c.name.startsWith("via "))).toEqual([]);
        // Neither was spent or harmed by being shown to /api.
        expect(await mcpBearerStatus(f.base, access)).not.toBe(401);

        const key = await f.newKey(f.aliceJar, "not for mcp");
        expect(await mcpBearerStatus(f.base, key.token)).toBe(401);
        // Other schemes and shapes.
        expectApiError(await api(f.base, "/me", { headers: { authorization: `Basic ${Buffer.from("alice@example.com:x").toString("base64")}` } }), 401, "invalid_token");
        expectApiError(await api(f.base, "/me", { headers: { authorization: "Bearer" } }), 401, "invalid_token");
        expectApiError(await api(f.base, "/me", { headers: { authorization: `Bearer ${key.token} extra` } }), 401, "invalid_token");
      });

      it("another user's key or connection id → 404 not_found, and nothing is deleted", async () => {
        const aliceKey = await f.newKey(f.aliceJar, "alice's key");
        const { client, access } = await f.connectAs(f.aliceJar);
        const connection = (await f.connectionOf(f.aliceJar, client.client_id))!;
        const bobKey = await f.newKey(f.bobJar, "bob's key");
        expect((await api(f.base, "/me", { bearer: bobKey.token })).json).toEqual({ id: f.bob.id, email: "bob@example.com" });
        for (const id of [aliceKey.id, connection.id]) {
          expectApiError(await api(f.base, `/tokens/${id}`, { method: "DELETE", bearer: bobKey.token }), 404, "not_found");
          expectApiError(await api(f.base, `/tokens/${id}`, { method: "DELETE", cookie: f.bobJar, csrf: await f.csrfOf(f.bobJar) }), 404, "not_found");
        }
        expect((await api(f.base, "/me", { bearer: aliceKey.token })).status).toBe(200);
        expect(await f.connectionOf(f.aliceJar, client.client_id)).toBeDefined();
        expect(await mcpBearerStatus(f.base, access)).not.toBe(401);
        for (const id of ["00000000-0000-0000-0000-000000000000", "not-a-uuid", "x".repeat(500)]) {
          expectApiError(await api(f.base, `/tokens/${id}`, { method: "DELETE", bearer: bobKey.token }), 404, "not_found");
        }
      });

      it("DELETE /api/tokens/:id of a connection: 204, and its access token gets 401 at /mcp within 1 s", async () => {
        const { client, access, refresh } = await f.connectAs(f.aliceJar);
        const connection = (await f.connectionOf(f.aliceJar, client.client_id))!;
        expect([401, 403]).not.toContain(await mcpBearerStatus(f.base, access));
        if (f.other) expect([401, 403]).not.toContain(await mcpBearerStatusOnNode(f.otherUrl, f.base, access));
        const gone = await api(f.base, `/tokens/${connection.id}`, { method: "DELETE", cookie: f.aliceJar, csrf: await f.csrfOf(f.aliceJar) });
        expect(gone.status, gone.text).toBe(204);
        expect(await mcpStatusAfterRevocation(f.base, access, 1000)).toBe(401);
        if (f.other) expect(await mcpStatusAfterRevocationOnNode(f.otherUrl, f.base, access, 1000), "401 on the other node within 1 s").toBe(401);
        expectRefreshRefused(await refreshGrant(f.base, client.client_id, refresh));
      });

      it("malformed JSON or a wrong shape → 400 with a JSON error, and nothing is created", async () => {
        const csrf = await f.csrfOf(f.aliceJar);
        const before = (await f.credentials(f.aliceJar)).length;
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
          const response = await api(f.base, "/tokens", { method: "POST", cookie: f.aliceJar, csrf, rawBody, headers: { "content-type": "application/json" } });
          expect(response.status, label).toBe(400);
          expectApiError(response, 400, code);
        }
        expect((await f.credentials(f.aliceJar)).length).toBe(before);
      });

      it("PRODUCT §8: an oversized body (1 MB) is refused with a 4xx (or the upload cut off) and does nothing — /api/tokens, /user/tokens, /login", async () => {
        const pad = "x".repeat(1024 * 1024);
        const refused = (label: string, response: Upload) => {
          if (response === "closed") return; // answered early and closed mid-upload: also a refusal
          expect([400, 413], `${label}: ${response.status} ${response.text.slice(0, 200)}`).toContain(response.status);
          expect(response.setCookies.filter((c) => c.startsWith(`${SESSION_COOKIE}=`)), label).toEqual([]);
        };
        const before = (await f.credentials(f.aliceJar)).length;
        const json = { ...cookieHeader(f.aliceJar), "x-csrf-token": await f.csrfOf(f.aliceJar), "content-type": "application/json" };
        refused("POST /api/tokens", await uploadOnce(`${f.base}/api/tokens`, json, JSON.stringify({ name: "padded", pad })));

        const form = { ...cookieHeader(f.aliceJar), "content-type": "application/x-www-form-urlencoded" };
        const create = formFields((await pageAt(f.base, "/user", f.aliceJar)).html, "/user/tokens");
        refused("POST /user/tokens", await uploadOnce(`${f.base}/user/tokens`, form, new URLSearchParams({ ...create, name: "padded form", pad }).toString()));
        expect((await f.credentials(f.aliceJar)).length, "no key was created").toBe(before);

        const jar = new CookieJar();
        const page = await get(f.base, "/login", jar);
        jar.absorb(page);
        const login = new URLSearchParams({ ...formFields(await page.text(), "/login"), email: "alice@example.com", password: PASSWORD, pad }).toString();
        refused("POST /login", await uploadOnce(`${f.base}/login`, { ...cookieHeader(jar), "content-type": "application/x-www-form-urlencoded" }, login));
      });

      it("every /api error is JSON with a stable error code", async () => {
        const key = await f.newKey(f.bobJar, "errors probe");
        const cases: [string, string, ApiOptions, number, string][] = [
          ["no credentials", "/me", {}, 401, "unauthenticated"],
          ["no f.credentials, list", "/tokens", {}, 401, "unauthenticated"],
          ["no f.credentials, create", "/tokens", { method: "POST", body: { name: "x" } }, 401, "unauthenticated"],
          ["no f.credentials, delete", "/tokens/x", { method: "DELETE" }, 401, "unauthenticated"],
          ["an unknown bearer", "/me", { bearer: "ghk_unknown" }, 401, "invalid_token"],
          ["a cookie write without CSRF", "/tokens/x", { method: "DELETE", cookie: f.bobJar }, 403, "csrf_failed"],
          ["an unknown id", "/tokens/x", { method: "DELETE", bearer: key.token }, 404, "not_found"],
          ["an unknown path", "/nothing-here", { bearer: key.token }, 404, "not_found"],
          ["a bad body", "/tokens", { method: "POST", bearer: key.token, rawBody: "{" }, 400, "invalid_request"],
        ];
        for (const [label, path, options, status, code] of cases) {
          const response = await api(f.base, path, options);
          expect(response.status, `${label}: ${response.text}`).toBe(status);
          expectApiError(response, status, code);
        }
      });
    });
  });
}
