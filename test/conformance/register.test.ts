/**
 * RFC 7591 dynamic client registration (SPEC-CHECKLIST DCR-1..DCR-11) and
 * the registration threats (THREATS 4, 6, 26-28): the redirect URI rules of
 * PRODUCT.md "Clients and redirects", metadata validation, privileged fields,
 * idempotent public re-registration, the 30-day purge of unused
 * registrations, and the per-IP limit that holds across nodes sharing one
 * database and keys on the address our own proxy saw.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ManualClock } from "../../src/clock.js";
import { unlimited } from "../../src/storage/rate-limit.js";
import { drivers } from "../helpers/databases.js";
import { connect, openAuthorize, pkce, postRegistration, signIn, tokenRequest, type CookieJar } from "../helpers/oauth.js";
import { startTestServer, type TestServer } from "../helpers/server.js";

const PUBLIC = { client_name: "Reg Test", token_endpoint_auth_method: "none" };

/** Accepted redirect URIs (PRODUCT.md "Clients and redirects"; DCR-6; THREATS 4). */
const ACCEPTED = [
  "https://app.example/cb",
  "https://app.example/oauth/callback?tenant=7",
  "http://localhost:1234/cb",
  "http://localhost/cb",
  "http://127.0.0.1:3000/cb",
  "http://127.0.0.1/cb",
  "http://[::1]:8080/cb",
  "com.example.app:/cb",
  "com.example.app:/oauth2redirect",
  "cursor://anysphere.cursor-retrieval/oauth/callback",
  "vscode://vscode.github-authentication/did-authenticate",
];

/** Rejected with invalid_redirect_uri, including disguised dangerous schemes (THREATS 4, 5). */
const REJECTED: [string, unknown][] = [
  ["javascript:", "javascript:alert(1)"],
  ["JavaScript: (case)", "JavaScript:alert(1)"],
  ["JAVASCRIPT: (upper case)", "JAVASCRIPT:alert(1)"],
  ["leading space", " javascript:alert(1)"],
  ["leading tab", "\tjavascript:alert(1)"],
  ["tab inside scheme", "java\tscript:alert(1)"],
  ["newline inside scheme", "java\nscript:alert(1)"],
  ["carriage return inside scheme", "java\rscript:alert(1)"],
  ["leading NUL", "\u0000javascript:alert(1)"],
  ["leading control char", "\u0001javascript:alert(1)"],
  ["trailing newline", "javascript:alert(1)\n"],
  ["javascript: with //", "javascript://app.example/%0aalert(1)"],
  ["data:", "data:text/html,<script>alert(1)</script>"],
  ["DATA: (case)", "DATA:text/html;base64,PHNjcmlwdD4="],
  ["file:", "file:///etc/passwd"],
  ["vbscript:", "vbscript:msgbox(1)"],
  ["VBScript: (case)", "VBScript:msgbox(1)"],
  ["blob:", "blob:https://app.example/550e8400-e29b-41d4-a716-446655440000"],
  ["fragment", "https://app.example/cb#frag"],
  ["empty fragment", "https://app.example/cb#"],
  ["loopback with fragment", "http://127.0.0.1:3000/cb#x"],
  ["userinfo", "https://user@app.example/cb"],
  ["userinfo with password", "https://user:pw@app.example/cb"],
  ["userinfo smuggling a loopback host", "http://localhost:8090%25@evil.example/cb"],
  ["http on a non-loopback host", "http://evil.example/cb"],
  ["http on a loopback look-alike", "http://localhost.evil.example/cb"],
  ["loopback not written exactly (127.1)", "http://127.1/cb"],
  ["single-label private-use scheme", "myapp:/cb"],
  ["single-label private-use scheme with //", "myapp://cb"],
  ["relative", "/cb"],
  ["scheme-relative", "//app.example/cb"],
  ["empty string", ""],
  ["not a string", 42],
  ["unparsable", "https://[::1/cb"],
  ["only a scheme", "https://"],
  ["whitespace inside", "https://app.example/c b"],
  ["backslash authority", "https://app.example\\@evil.example/cb"],
  ["path traversal (..;)", "http://127.0.0.1:3000/cb/..;/evil"],
];

const NON_HTTPS_URIS = ["http://app.example/x", "javascript:alert(1)", "data:image/png;base64,AAAA", "ftp://app.example/x", "/relative", 7];

async function register(base: string, body: Record<string, unknown>) {
  const response = await postRegistration(base, body);
  return { response, body: (await response.json()) as Record<string, unknown> };
}

async function expectError(base: string, body: unknown, error: string, contentType?: string) {
  const response = await postRegistration(base, body, contentType);
  const text = await response.text();
  expect(response.status, text).toBe(400);
  expect(response.headers.get("content-type")).toMatch(/^application\/json\b/);
  expect(response.headers.get("cache-control")).toBe("no-store");
  const json = JSON.parse(text) as Record<string, unknown>;
  expect(json.error, text).toBe(error);
  expect(json).not.toHaveProperty("client_id");
}

const basic = (id: string, secret: string) =>
  `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString("base64")}`;

for (const driver of drivers()) {
  describe(`dynamic client registration (${driver})`, () => {
    let server: TestServer;
    let base: string;
    let jar: CookieJar;
    beforeAll(async () => {
      server = await startTestServer(driver);
      base = server.base;
      await server.addUser("reg@example.com", "correct horse battery");
      jar = await signIn(base, "reg@example.com", "correct horse battery");
    });
    afterAll(async () => server?.close());

    describe("successful registration", () => {
      it("DCR-2: 201 JSON with client_id and the registered metadata, no-store, no secret for a public client", async () => {
        const { response, body } = await register(base, {
          redirect_uris: ["http://127.0.0.1:3000/cb"],
          client_name: "x",
          token_endpoint_auth_method: "none",
        });
        expect(response.status).toBe(201);
        expect(response.headers.get("content-type")).toMatch(/^application\/json\b/);
        expect(response.headers.get("cache-control")).toBe("no-store");
        expect(body.client_id).toEqual(expect.any(String));
        expect(body.redirect_uris).toEqual(["http://127.0.0.1:3000/cb"]);
        expect(body.client_name).toBe("x");
        expect(body.token_endpoint_auth_method).toBe("none");
        expect(body.grant_types).toContain("authorization_code");
        expect(body.response_types).toEqual(["code"]);
        expect(body).not.toHaveProperty("client_secret");
        expect(body).not.toHaveProperty("client_secret_expires_at");
      });

      it("DCR-2: echoes every registered metadata field unchanged", async () => {
        const metadata = {
          redirect_uris: ["https://app.example/cb", "http://127.0.0.1:4000/cb"],
          client_name: "Echo Client",
          token_endpoint_auth_method: "none",
          grant_types: ["authorization_code", "refresh_token"],
          response_types: ["code"],
          client_uri: "https://app.example/",
          logo_uri: "https://app.example/logo.png",
          tos_uri: "https://app.example/tos",
          policy_uri: "https://app.example/privacy",
          contacts: ["ops@app.example"],
          scope: "mcp",
          application_type: "web",
          software_id: "4NRB1-0XZABZI9E6-5SM3R",
          software_version: "2.1",
        };
        const { response, body } = await register(base, metadata);
        expect(response.status).toBe(201);
        expect(body).toMatchObject(metadata);
        if ("client_id_issued_at" in body) {
          expect(Math.abs((body.client_id_issued_at as number) - Date.now() / 1000)).toBeLessThan(120);
        }
      });

      it("DCR-3 / DCR-4: an omitted token_endpoint_auth_method means client_secret_basic with a secret, and the response says so", async () => {
        const { response, body } = await register(base, { redirect_uris: ["https://app.example/cb"], client_name: "Confidential" });
        expect(response.status).toBe(201);
        expect(response.headers.get("cache-control")).toBe("no-store");
        expect(body.token_endpoint_auth_method).toBe("client_secret_basic");
        expect(body.client_secret).toEqual(expect.any(String));
        expect((body.client_secret as string).length).toBeGreaterThanOrEqual(32);
        // RFC 7591 §3.2.1: REQUIRED with a secret; 0 means "never expires" (THREATS 28 wants finite or documented rotation).
        expect(Number.isInteger(body.client_secret_expires_at)).toBe(true);
        expect(body.client_secret_expires_at as number).toBeGreaterThanOrEqual(0);
      });

      it("DCR-4: later token requests follow the effective method (Basic accepted, post and wrong secret refused)", async () => {
        const { body: client } = await register(base, { redirect_uris: ["https://app.example/cb"], client_name: "Basic User" });
        const id = client.client_id as string;
        const secret = client.client_secret as string;
        const grant = { grant_type: "authorization_code", code: "not-a-real-code", code_verifier: pkce().verifier };
        // Authentication passes, so the failure is about the code.
        const viaBasic = await tokenRequest(base, grant, { authorization: basic(id, secret) });
        expect(viaBasic.status).toBe(400);
        expect(viaBasic.body.error).toBe("invalid_grant");
        const viaPost = await tokenRequest(base, { ...grant, client_id: id, client_secret: secret });
        expect(viaPost.status).toBe(401);
        expect(viaPost.body.error).toBe("invalid_client");
        const wrong = await tokenRequest(base, grant, { authorization: basic(id, `${secret}x`) });
        expect(wrong.status).toBe(401);
        expect(wrong.body.error).toBe("invalid_client");
        expect(wrong.headers.get("www-authenticate")).toMatch(/^Basic /);
      });

      it("DCR-3: client_secret_post also gets a secret and an expiry", async () => {
        const { response, body } = await register(base, {
          redirect_uris: ["https://app.example/cb"],
          token_endpoint_auth_method: "client_secret_post",
        });
        expect(response.status).toBe(201);
        expect(body.token_endpoint_auth_method).toBe("client_secret_post");
        expect(body.client_secret).toEqual(expect.any(String));
        expect(body).toHaveProperty("client_secret_expires_at");
      });

      it("DCR-8: a public client that sends a client_secret is not treated as confidential", async () => {
        const { body: client } = await register(base, { ...PUBLIC, redirect_uris: ["https://app.example/pub-secret"] });
        const result = await tokenRequest(base, {
          grant_type: "authorization_code",
          code: "not-a-real-code",
          code_verifier: pkce().verifier,
          client_id: client.client_id as string,
          client_secret: "made-up",
        });
        // Either refused as a confused client, or the secret is ignored and the bogus code is the problem.
        expect([401, 400]).toContain(result.status);
        expect(result.body.error).toBe(result.status === 401 ? "invalid_client" : "invalid_grant");
      });

      it("DCR-1: application/json with parameters or in another case is still JSON", async () => {
        for (const type of ["application/json; charset=utf-8", "Application/JSON"]) {
          const response = await postRegistration(base, { ...PUBLIC, client_name: type, redirect_uris: ["https://app.example/cb"] }, type);
          expect(response.status, type).toBe(201);
        }
      });

      it("DCR-10: the generated client_id never looks like a metadata-document URL", async () => {
        const { body } = await register(base, { ...PUBLIC, redirect_uris: ["https://app.example/dcr10"] });
        expect(body.client_id).not.toMatch(/^https?:\/\//i);
        expect((body.client_id as string).length).toBeGreaterThanOrEqual(16);
      });

      it("DCR-11: application_type native with a loopback redirect and web with https are both accepted", async () => {
        const native = await register(base, { ...PUBLIC, application_type: "native", redirect_uris: ["http://127.0.0.1:5000/cb"] });
        expect(native.response.status).toBe(201);
        expect(native.body.application_type).toBe("native");
        const web = await register(base, { ...PUBLIC, application_type: "web", redirect_uris: ["https://app.example/web"] });
        expect(web.response.status).toBe(201);
        expect(web.body.application_type).toBe("web");
      });
    });

    describe("redirect URIs", () => {
      for (const uri of ACCEPTED) {
        it(`accepts ${uri}`, async () => {
          const { response, body } = await register(base, { ...PUBLIC, client_name: `ok ${uri}`, redirect_uris: [uri] });
          expect(response.status, JSON.stringify(body)).toBe(201);
          expect(body.redirect_uris).toEqual([uri]);
        });
      }

      it("accepts every kind together in one registration, echoed in order", async () => {
        const { response, body } = await register(base, { ...PUBLIC, redirect_uris: ACCEPTED });
        expect(response.status).toBe(201);
        expect(body.redirect_uris).toEqual(ACCEPTED);
      });

      for (const [name, uri] of REJECTED) {
        it(`rejects ${name}: ${JSON.stringify(uri)} → invalid_redirect_uri`, async () => {
          await expectError(base, { ...PUBLIC, redirect_uris: [uri] }, "invalid_redirect_uri");
        });
      }

      it("rejects the whole registration when one of several URIs is bad", async () => {
        await expectError(base, { ...PUBLIC, redirect_uris: ["https://app.example/cb", "javascript:alert(1)"] }, "invalid_redirect_uri");
      });

      it("DCR-7: requires redirect_uris for the code grant (missing, empty or not an array)", async () => {
        for (const redirect_uris of [undefined, [], "https://app.example/cb", null]) {
          const response = await postRegistration(base, { ...PUBLIC, redirect_uris });
          const json = (await response.json()) as Record<string, unknown>;
          expect(response.status).toBe(400);
          // RFC 7591 §3.2.2 leaves the choice between these two codes.
          expect(["invalid_redirect_uri", "invalid_client_metadata"]).toContain(json.error);
        }
      });
    });

    describe("client metadata", () => {
      for (const field of ["logo_uri", "client_uri", "tos_uri", "policy_uri"]) {
        it(`THREATS 6: a non-https ${field} → invalid_client_metadata`, async () => {
          for (const value of NON_HTTPS_URIS) {
            await expectError(base, { ...PUBLIC, redirect_uris: ["https://app.example/cb"], [field]: value }, "invalid_client_metadata");
          }
        });
      }

      const badGrants: [string, Record<string, unknown>][] = [
        ["grant_types [password]", { grant_types: ["password"] }],
        ["grant_types [implicit]", { grant_types: ["implicit"] }],
        ["grant_types [client_credentials]", { grant_types: ["client_credentials"] }],
        ["grant_types with password beside the code grant", { grant_types: ["authorization_code", "password"] }],
        ["response_types [token]", { response_types: ["token"] }],
        ["code grant with response_types [token] (DCR-7)", { grant_types: ["authorization_code"], response_types: ["token"] }],
        ["response_types [code, token]", { response_types: ["code", "token"] }],
        ["token_endpoint_auth_method private_key_jwt", { token_endpoint_auth_method: "private_key_jwt" }],
        ["token_endpoint_auth_method unknown", { token_endpoint_auth_method: "magic" }],
        ["application_type unknown", { application_type: "desktop" }],
        ["client_name not a string", { client_name: 42 }],
        ["client_name with a bidi override", { client_name: "Good\u202eliameG" }],
        ["client_name with a newline", { client_name: "Line\nBreak" }],
        ["contacts not an array", { contacts: "ops@app.example" }],
      ];
      for (const [name, extra] of badGrants) {
        it(`DCR-5: ${name} → invalid_client_metadata`, async () => {
          await expectError(base, { ...PUBLIC, redirect_uris: ["https://app.example/cb"], ...extra }, "invalid_client_metadata");
        });
      }
    });

    describe("malformed requests (DCR-1, PRODUCT §8)", () => {
      it("a non-JSON content type → 400 JSON error", async () => {
        const json = JSON.stringify({ ...PUBLIC, redirect_uris: ["https://app.example/cb"] });
        for (const type of ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"]) {
          const response = await postRegistration(base, json, type);
          expect(response.status, type).toBe(400);
          expect(response.headers.get("content-type")).toMatch(/^application\/json\b/);
          expect(((await response.json()) as Record<string, unknown>).error).toEqual(expect.any(String));
        }
      });

      it("invalid JSON → 400 JSON error", async () => {
        for (const text of ['{"redirect_uris":', "not json", "", "{'a':1}"]) {
          const response = await postRegistration(base, text);
          expect(response.status, text).toBe(400);
          expect(((await response.json()) as Record<string, unknown>).error).toEqual(expect.any(String));
        }
      });

      it("JSON that is not an object → 400 invalid_client_metadata", async () => {
        for (const text of ["[]", "null", "42", '"x"']) {
          const response = await postRegistration(base, text);
          expect(response.status, text).toBe(400);
          expect(((await response.json()) as Record<string, unknown>).error).toBe("invalid_client_metadata");
        }
      });

      it("THREATS 26: a 20 KB body → 4xx JSON, never 500", async () => {
        const big = { ...PUBLIC, redirect_uris: ["https://app.example/cb"], software_statement: "x".repeat(20 * 1024) };
        const response = await postRegistration(base, big);
        expect(response.status).toBeGreaterThanOrEqual(400);
        expect(response.status).toBeLessThan(500);
        expect(((await response.json()) as Record<string, unknown>).error).toEqual(expect.any(String));
      });

      it("THREATS 26: a 20 KB streamed body without Content-Length → 4xx, never 500", async () => {
        const chunk = new TextEncoder().encode(`{"client_name":"${"y".repeat(20 * 1024)}","redirect_uris":["https://app.example/cb"]}`);
        const body = new ReadableStream<Uint8Array>({
          start(controller) {
            for (let i = 0; i < chunk.length; i += 1024) controller.enqueue(chunk.slice(i, i + 1024));
            controller.close();
          },
        });
        const response = await fetch(`${base}/oauth/register`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body,
          duplex: "half",
        } as RequestInit);
        expect(response.status).toBeGreaterThanOrEqual(400);
        expect(response.status).toBeLessThan(500);
      });

      it("GET /oauth/register is not a registration (404 or 405, JSON)", async () => {
        const response = await fetch(`${base}/oauth/register`);
        expect([404, 405]).toContain(response.status);
      });
    });

    describe("privileged fields (THREATS 27)", () => {
      const privileged = {
        client_id: "https://evil.example/client.json",
        client_secret: "attacker-chosen-secret",
        client_id_issued_at: 1,
        client_secret_expires_at: 0,
        registration_access_token: "attacker-token",
        skip_consent: true,
        trusted: true,
        first_party: true,
        scope_override: "admin",
        source: "cimd",
        disabled: false,
      };

      it("ignores them: the client_id and secret are server-generated, none is echoed", async () => {
        const { response, body } = await register(base, {
          ...privileged,
          client_name: "Privileged",
          redirect_uris: ["https://app.example/privileged"],
          token_endpoint_auth_method: "client_secret_post",
        });
        expect(response.status).toBe(201);
        expect(body.client_id).not.toBe(privileged.client_id);
        expect(body.client_id).not.toMatch(/^https:\/\//);
        expect(body.client_secret).not.toBe(privileged.client_secret);
        if ("client_id_issued_at" in body) expect(body.client_id_issued_at).not.toBe(1);
        for (const key of ["registration_access_token", "skip_consent", "trusted", "first_party", "scope_override", "source", "disabled"]) {
          expect(body, key).not.toHaveProperty(key);
        }
        // The chosen secret is not a credential for the new client.
        const attempt = await tokenRequest(base, {
          grant_type: "authorization_code",
          code: "not-a-real-code",
          code_verifier: pkce().verifier,
          client_id: body.client_id as string,
          client_secret: privileged.client_secret,
        });
        expect(attempt.status).toBe(401);
        expect(attempt.body.error).toBe("invalid_client");
      });

      it("a client claiming skip_consent / trusted still gets the consent page (THREATS 34)", async () => {
        const { body } = await register(base, { ...privileged, ...PUBLIC, redirect_uris: ["https://app.example/skip"] });
        const response = await openAuthorize(base, jar, {
          response_type: "code",
          client_id: body.client_id as string,
          redirect_uri: "https://app.example/skip",
          code_challenge: pkce().challenge,
          code_challenge_method: "S256",
          state: "s",
        });
        expect(response.status).toBe(200);
        expect(response.headers.get("location")).toBeNull();
        expect(await response.text()).toContain('name="decision"');
      });
    });

    describe("idempotent public registration (PRODUCT §6, THREATS 26)", () => {
      it("identical public metadata returns the same client_id; any difference gets a new one", async () => {
        const metadata = { ...PUBLIC, client_name: `Idem ${randomUUID()}`, redirect_uris: ["http://127.0.0.1:7000/cb"], scope: "mcp" };
        const first = await register(base, metadata);
        const second = await register(base, metadata);
        expect(first.response.status).toBe(201);
        expect(second.response.status).toBe(201);
        expect(second.body.client_id).toBe(first.body.client_id);
        expect(second.body).not.toHaveProperty("client_secret");
        // Key order is not metadata.
        const reordered = Object.fromEntries(Object.entries(metadata).reverse());
        expect((await register(base, reordered)).body.client_id).toBe(first.body.client_id);
        for (const change of [
          { client_name: `${metadata.client_name} 2` },
          { redirect_uris: ["http://127.0.0.1:7001/cb"] },
          { scope: undefined },
        ]) {
          const other = await register(base, { ...metadata, ...change });
          expect(other.response.status).toBe(201);
          expect(other.body.client_id, JSON.stringify(change)).not.toBe(first.body.client_id);
        }
      });

      it("a confidential re-registration always comes with a secret of its own", async () => {
        const metadata = { client_name: `Conf ${randomUUID()}`, redirect_uris: ["https://app.example/conf"] };
        const first = await register(base, metadata);
        const second = await register(base, metadata);
        expect(first.body.client_secret).toEqual(expect.any(String));
        expect(second.body.client_secret).toEqual(expect.any(String));
        expect(second.body.client_secret).not.toBe(first.body.client_secret);
      });

      it("20 concurrent identical public registrations all get the same client_id", async () => {
        const metadata = { ...PUBLIC, client_name: `Race ${randomUUID()}`, redirect_uris: ["http://127.0.0.1:7100/cb"] };
        const results = await Promise.all(Array.from({ length: 20 }, () => register(base, metadata)));
        expect(results.map((r) => r.response.status)).toEqual(Array(20).fill(201));
        expect(new Set(results.map((r) => r.body.client_id)).size).toBe(1);
      });
    });
  });

  describe(`registration rate limit, the production limiter (${driver})`, () => {
    let nodeA: TestServer;
    let nodeB: TestServer | null = null;
    beforeAll(async () => {
      // Only the login limits are lifted; `register` is the default 20 per minute per IP from createServices.
      const appDeps = { rateLimits: { loginByIp: unlimited, loginByAccount: unlimited } };
      nodeA = await startTestServer(driver, { appDeps });
      if (driver === "postgres") nodeB = await startTestServer(driver, { appDeps, testDb: nodeA.testDb });
    });
    afterAll(async () => {
      await nodeB?.close();
      await nodeA?.close();
    });

    it(`DCR-9 / THREATS 26: the 21st registration from one IP within a minute gets 429 with Retry-After${driver === "postgres" ? ", across two nodes" : ""}`, async () => {
      const nodes = nodeB ? [nodeA, nodeB] : [nodeA];
      for (let i = 0; i < 20; i++) {
        const node = nodes[i % nodes.length]!;
        const response = await postRegistration(node.base, { ...PUBLIC, client_name: `Limit ${i}`, redirect_uris: ["https://app.example/cb"] });
        expect(response.status, `registration ${i + 1} on ${node.base}`).toBe(201);
      }
      for (const node of nodes) {
        const response = await postRegistration(node.base, { ...PUBLIC, client_name: "Limit 21", redirect_uris: ["https://app.example/cb"] });
        expect(response.status, node.base).toBe(429);
        const retryAfter = response.headers.get("retry-after");
        expect(retryAfter).toMatch(/^\d+$/);
        expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
        expect(Number(retryAfter)).toBeLessThanOrEqual(60);
        expect(response.headers.get("content-type")).toMatch(/^application\/json\b/);
        expect(response.headers.get("cache-control")).toBe("no-store");
        // MD-10: a browser client must be able to read the refusal and its Retry-After.
        expect(response.headers.get("access-control-allow-origin")).toBe("*");
        const json = (await response.json()) as Record<string, unknown>;
        expect(json.error).toBe("slow_down");
        expect(json).not.toHaveProperty("client_id");
      }
      // GATEHOUSE_TRUST_PROXY is off: a forged X-Forwarded-For is not another address.
      const forged = await fetch(`${nodeA.base}/oauth/register`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-forwarded-for": "203.0.113.9", forwarded: "for=203.0.113.9" },
        body: JSON.stringify({ ...PUBLIC, client_name: "Limit forged", redirect_uris: ["https://app.example/cb"] }),
      });
      expect(forged.status).toBe(429);
    });
  });

  describe(`registration rate limit behind a trusted proxy (${driver})`, () => {
    let server: TestServer;
    beforeAll(async () => {
      server = await startTestServer(driver, { config: { trustProxy: true }, appDeps: { rateLimits: { loginByIp: unlimited, loginByAccount: unlimited } } });
    });
    afterAll(async () => server?.close());

    const registerVia = (forwardedFor: string, name: string) =>
      fetch(`${server.base}/oauth/register`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-forwarded-for": forwardedFor },
        body: JSON.stringify({ ...PUBLIC, client_name: name, redirect_uris: ["https://app.example/cb"] }),
      });

    it("THREATS 26: keys on the last X-Forwarded-For hop (the one our proxy appended), so a client cannot dodge it with forged first hops", async () => {
      for (let i = 0; i < 20; i++) {
        // The client writes whatever it likes in front; the proxy appends the address it saw (spacing varies by proxy).
        const response = await registerVia(`203.0.113.${i}, 10.9.8.${i},${i % 2 ? " " : ""}198.51.100.7${i % 3 ? "" : " "}`, `Proxied ${i}`);
        expect(response.status, `registration ${i + 1}`).toBe(201);
      }
      const throttled = await registerVia("192.0.2.99, 198.51.100.7", "Proxied 21");
      expect(throttled.status).toBe(429);
      expect(((await throttled.json()) as Record<string, unknown>).error).toBe("slow_down");
      const anotherClient = await registerVia("203.0.113.1, 198.51.100.8", "Another address");
      expect(anotherClient.status, "a different proxied address has its own budget").toBe(201);
    });
  });

  describe(`unused registrations are purged after 30 days (PRODUCT §6) (${driver})`, () => {
    const DAY = 24 * 60 * 60_000;
    const clock = new ManualClock(Date.now());
    let server: TestServer;
    beforeAll(async () => {
      server = await startTestServer(driver, { clock });
      await server.addUser("purge@example.com", "correct horse battery");
    });
    afterAll(async () => server?.close());

    const consentOrError = async (clientId: string, redirectUri: string) => {
      const jar = await signIn(server.base, "purge@example.com", "correct horse battery");
      const response = await openAuthorize(server.base, jar, {
        response_type: "code",
        client_id: clientId,
        redirect_uri: redirectUri,
        code_challenge: pkce().challenge,
        code_challenge_method: "S256",
        state: "s",
      });
      return { status: response.status, html: await response.text() };
    };

    it("removes a dynamic client (and its secret) unused for 31 days with no connection; keeps one that has a connection", async () => {
      const unusedPublic = await register(server.base, { ...PUBLIC, client_name: `Unused ${randomUUID()}`, redirect_uris: ["https://app.example/unused"] });
      const unusedSecret = await register(server.base, { client_name: `Unused secret ${randomUUID()}`, redirect_uris: ["https://app.example/unused-secret"] });
      const connected = await register(server.base, { ...PUBLIC, client_name: `Connected ${randomUUID()}`, redirect_uris: ["http://127.0.0.1:7300/cb"] });
      const jar = await signIn(server.base, "purge@example.com", "correct horse battery");
      await connect(server.base, jar, connected.body as { client_id: string; redirect_uris: string[] });
      clock.advance(31 * DAY);
      await server.running.gatehouse.sweep();

      const gone = await consentOrError(unusedPublic.body.client_id as string, "https://app.example/unused");
      expect(gone.status).toBe(400);
      expect(gone.html).toContain("Unknown application");
      const secretGone = await tokenRequest(
        server.base,
        { grant_type: "authorization_code", code: "x", code_verifier: pkce().verifier },
        { authorization: basic(unusedSecret.body.client_id as string, unusedSecret.body.client_secret as string) },
      );
      expect(secretGone.status).toBe(401);
      expect(secretGone.body.error).toBe("invalid_client");
      const kept = await consentOrError(connected.body.client_id as string, "http://127.0.0.1:7300/cb");
      expect(kept.status).toBe(200);
      expect(kept.html).toContain('name="decision"');
    });

    it("an identical public re-registration marks the existing client used, so the purge right after does not remove it", async () => {
      const metadata = { ...PUBLIC, client_name: `Returning ${randomUUID()}`, redirect_uris: ["https://app.example/returning"] };
      const first = await register(server.base, metadata);
      clock.advance(31 * DAY);
      const again = await register(server.base, metadata);
      expect(again.response.status).toBe(201);
      expect(again.body.client_id).toBe(first.body.client_id);
      await server.running.gatehouse.sweep();

      const page = await consentOrError(again.body.client_id as string, "https://app.example/returning");
      expect(page.status, page.html.slice(0, 300)).toBe(200);
      expect(page.html).toContain('name="decision"');
      expect((await register(server.base, metadata)).body.client_id, "still the same registration").toBe(first.body.client_id);
    });
  });
}
