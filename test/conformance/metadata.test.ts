/**
 * Discovery: RFC 8414 authorization server metadata and RFC 9728 protected
 * resource metadata (SPEC-CHECKLIST MD-1..MD-9, PRM-1..PRM-6), the 401
 * challenge that points clients at them, and THREATS 43 (nothing in them may
 * come from request headers). The configured public URL is
 * http://127.0.0.1:<port>, a loopback origin, so "https or our origin" means
 * "exactly our origin" here.
 */
import http from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { drivers } from "../helpers/databases.js";
import { startTestServer, type TestServer } from "../helpers/server.js";

const ASM = "/.well-known/oauth-authorization-server";
const PRM_ROOT = "/.well-known/oauth-protected-resource";
const PRM_MCP = "/.well-known/oauth-protected-resource/mcp";

interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A request through node:http, which (unlike fetch) sends whatever Host header it is given. */
function rawRequest(base: string, path: string, options: { method?: string; headers?: Record<string, string>; body?: string } = {}) {
  const url = new URL(path, base);
  return new Promise<RawResponse>((resolve, reject) => {
    const req = http.request(
      { host: url.hostname, port: url.port, path: url.pathname + url.search, method: options.method ?? "GET", headers: options.headers ?? {} },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(options.body);
  });
}

async function getJson(url: string) {
  const response = await fetch(url);
  return { response, body: (await response.json()) as Record<string, unknown> };
}

/** Every array anywhere in the document, with its path. */
function arrays(value: unknown, path = "$"): [string, unknown[]][] {
  if (Array.isArray(value)) return [[path, value], ...value.flatMap((v, i) => arrays(v, `${path}[${i}]`))];
  if (value && typeof value === "object") return Object.entries(value).flatMap(([k, v]) => arrays(v, `${path}.${k}`));
  return [];
}

/** Every string value that is a URL (endpoints, issuer, resource, servers). */
function urls(value: unknown): string[] {
  if (typeof value === "string") return /^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? [value] : [];
  if (Array.isArray(value)) return value.flatMap(urls);
  if (value && typeof value === "object") return Object.values(value).flatMap(urls);
  return [];
}

const SPOOFS: Record<string, string>[] = [
  { host: "evil.example" },
  { host: "evil.example:443", "x-forwarded-host": "evil.example", "x-forwarded-proto": "https" },
  { "x-forwarded-host": "evil.example", "x-forwarded-proto": "https", "x-forwarded-port": "443", forwarded: "host=evil.example;proto=https" },
  { "x-forwarded-proto": "https" },
];

for (const driver of drivers()) {
  describe(`discovery metadata (${driver})`, () => {
    let server: TestServer;
    let base: string;
    let asm: Record<string, unknown>;
    beforeAll(async () => {
      server = await startTestServer(driver);
      base = server.base;
      asm = (await getJson(`${base}${ASM}`)).body;
    });
    afterAll(async () => server?.close());

    describe("RFC 8414 authorization server metadata", () => {
      it("MD-1: is served as a JSON object at /.well-known/oauth-authorization-server", async () => {
        const { response, body } = await getJson(`${base}${ASM}`);
        expect(response.status).toBe(200);
        expect(response.headers.get("content-type")).toMatch(/^application\/json\b/);
        expect(typeof body).toBe("object");
        expect(Array.isArray(body)).toBe(false);
      });

      it("MD-2: issuer is byte-for-byte the public URL (no trailing slash)", () => {
        expect(base).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
        expect(asm.issuer).toBe(base);
      });

      it("MD-3: has authorization_endpoint, token_endpoint and response_types_supported exactly [code]", () => {
        expect(asm.authorization_endpoint).toBe(`${base}/oauth/authorize`);
        expect(asm.token_endpoint).toBe(`${base}/oauth/token`);
        expect(asm.response_types_supported).toEqual(["code"]);
      });

      it("MD-4: code_challenge_methods_supported is exactly [S256]", () => {
        expect(asm.code_challenge_methods_supported).toEqual(["S256"]);
      });

      it("MD-5: publishes grant types without implicit or password, auth methods with none, and the optional endpoints", () => {
        const grants = asm.grant_types_supported as string[];
        expect(grants).toEqual(expect.arrayContaining(["authorization_code", "refresh_token"]));
        expect(grants).not.toContain("implicit");
        expect(grants).not.toContain("password");
        expect(grants).not.toContain("client_credentials");
        expect(asm.token_endpoint_auth_methods_supported).toContain("none");
        expect(asm.registration_endpoint).toBe(`${base}/oauth/register`);
        expect(asm.revocation_endpoint).toBe(`${base}/oauth/revoke`);
        expect(Array.isArray(asm.scopes_supported)).toBe(true);
      });

      it("MD-5: scopes_supported lists mcp and offline_access", () => {
        expect(asm.scopes_supported).toEqual(expect.arrayContaining(["mcp", "offline_access"]));
      });

      it("MD-6: has no empty arrays anywhere", () => {
        expect(arrays(asm).filter(([, a]) => a.length === 0).map(([path]) => path)).toEqual([]);
      });

      it("MD-7 / MD-8: advertises CIMD support and the RFC 9207 iss parameter as literal true", () => {
        expect(asm.client_id_metadata_document_supported).toBe(true);
        expect(asm.authorization_response_iss_parameter_supported).toBe(true);
      });

      it("mcp-remote CVE-2025-6514: every URL in it is on our own origin, with no query, fragment or userinfo", () => {
        const found = urls(asm);
        expect(found.length).toBeGreaterThanOrEqual(5);
        for (const value of found) {
          const url = new URL(value);
          expect(url.origin, value).toBe(new URL(base).origin);
          expect(value.startsWith(`${base}/`) || value === base, value).toBe(true);
          expect(url.search + url.hash + url.username + url.password, value).toBe("");
        }
      });

      it("only advertises endpoints that exist (none answers 404)", async () => {
        const endpoints = Object.entries(asm).filter(([key]) => key.endsWith("_endpoint"));
        expect(endpoints.length).toBeGreaterThanOrEqual(4);
        for (const [key, url] of endpoints) {
          const method = key === "authorization_endpoint" ? "GET" : "POST";
          const response = await fetch(url as string, { method, redirect: "manual" });
          expect(response.status, `${key} ${method}`).not.toBe(404);
          expect(response.status, `${key} ${method}`).toBeLessThan(500);
        }
      });

      it("MD-9: /.well-known/openid-configuration is not served (404)", async () => {
        const response = await fetch(`${base}/.well-known/openid-configuration`);
        expect(response.status).toBe(404);
      });
    });

    describe("RFC 9728 protected resource metadata", () => {
      for (const path of [PRM_MCP, PRM_ROOT]) {
        it(`PRM-1 / PRM-2: ${path} is JSON describing resource <base>/mcp`, async () => {
          const { response, body } = await getJson(`${base}${path}`);
          expect(response.status).toBe(200);
          expect(response.headers.get("content-type")).toMatch(/^application\/json\b/);
          expect(body.resource).toBe(`${base}/mcp`);
        });

        it(`PRM-3: ${path} names exactly the issuer as its authorization server`, async () => {
          const { body } = await getJson(`${base}${path}`);
          expect(body.authorization_servers).toEqual([base]);
          expect((body.authorization_servers as string[])[0]).toBe(asm.issuer);
        });

        it(`PRM-4: ${path} lists mcp but never offline_access, bearer methods exactly [header], no empty arrays`, async () => {
          const { body } = await getJson(`${base}${path}`);
          expect(body.scopes_supported).toContain("mcp");
          expect(body.scopes_supported).not.toContain("offline_access");
          expect(body.bearer_methods_supported).toEqual(["header"]);
          expect(arrays(body).filter(([, a]) => a.length === 0).map(([p]) => p)).toEqual([]);
          for (const value of urls(body)) expect(new URL(value).origin, value).toBe(new URL(base).origin);
        });
      }
    });

    describe("THREATS 43: request headers never change advertised URLs", () => {
      for (const path of [ASM, PRM_MCP, PRM_ROOT]) {
        it(`${path} is identical under spoofed Host / X-Forwarded-* headers`, async () => {
          const honest = await rawRequest(base, path);
          expect(honest.status).toBe(200);
          for (const headers of SPOOFS) {
            const spoofed = await rawRequest(base, path, { headers });
            expect(spoofed.status, JSON.stringify(headers)).toBe(200);
            expect(JSON.parse(spoofed.body), JSON.stringify(headers)).toEqual(JSON.parse(honest.body));
            expect(spoofed.body).not.toContain("evil.example");
            expect(spoofed.body).not.toContain("https://127.0.0.1");
          }
        });
      }

      it("the 401 challenge from /mcp keeps the configured base under spoofed headers", async () => {
        for (const headers of SPOOFS) {
          const response = await rawRequest(base, "/mcp", { method: "POST", headers: { "content-type": "application/json", ...headers }, body: "{}" });
          const label = `${JSON.stringify(headers)} → ${response.status}`;
          expect(response.body, label).not.toContain("evil.example");
          // A foreign Host on a loopback server may be refused outright (DNS-rebinding protection, THREATS 49).
          if (headers.host !== undefined && response.status === 403) continue;
          expect(response.status, label).toBe(401);
          expect(response.headers["www-authenticate"], label).toContain(`resource_metadata="${base}${PRM_MCP}"`);
          expect(response.headers["www-authenticate"], label).not.toContain("evil.example");
        }
      });
    });

    describe("MD-10: CORS for browser-based clients on token, registration and revocation only", () => {
      const ORIGIN = "https://inspector.example";
      const CORS_ENDPOINTS = ["/oauth/token", "/oauth/register", "/oauth/revoke"];
      const preflight = (path: string) =>
        fetch(`${base}${path}`, {
          method: "OPTIONS",
          headers: {
            origin: ORIGIN,
            "access-control-request-method": "POST",
            "access-control-request-headers": "content-type, authorization, mcp-protocol-version",
          },
        });
      const listed = (value: string | null) => (value ?? "").split(",").map((s) => s.trim().toLowerCase());
      function expectCors(response: Response, label: string): void {
        expect(response.headers.get("access-control-allow-origin"), label).toBe("*");
        expect(response.headers.get("access-control-allow-credentials"), label).toBeNull();
        expect(listed(response.headers.get("access-control-expose-headers")), label).toEqual(expect.arrayContaining(["www-authenticate", "retry-after"]));
      }

      for (const path of CORS_ENDPOINTS) {
        it(`${path}: a preflight answers 204 allowing POST with Content-Type, Authorization and MCP-Protocol-Version, for 600 s`, async () => {
          const response = await preflight(path);
          expect(response.status).toBe(204);
          expect(response.headers.get("access-control-allow-origin")).toBe("*");
          expect(listed(response.headers.get("access-control-allow-methods"))).toContain("post");
          expect(listed(response.headers.get("access-control-allow-headers"))).toEqual(
            expect.arrayContaining(["content-type", "authorization", "mcp-protocol-version"]),
          );
          expect(response.headers.get("access-control-max-age")).toBe("600");
          expect(response.headers.get("access-control-allow-credentials")).toBeNull();
        });
      }

      it("successful POSTs carry Access-Control-Allow-Origin: * (registration 201, revocation 200)", async () => {
        const registered = await fetch(`${base}/oauth/register`, {
          method: "POST",
          headers: { origin: ORIGIN, "content-type": "application/json" },
          body: JSON.stringify({ client_name: "Browser", redirect_uris: ["http://127.0.0.1:6274/oauth/callback"], token_endpoint_auth_method: "none" }),
        });
        expect(registered.status).toBe(201);
        expectCors(registered, "register 201");
        const { client_id } = (await registered.json()) as { client_id: string };
        const revoked = await fetch(`${base}/oauth/revoke`, {
          method: "POST",
          headers: { origin: ORIGIN, "content-type": "application/x-www-form-urlencoded" },
          body: new URLSearchParams({ client_id, token: "not-a-token" }),
        });
        expect(revoked.status).toBe(200);
        expectCors(revoked, "revoke 200");
      });

      it("error responses from the central error handler carry it too (400, 401 with a Basic challenge)", async () => {
        const form = { origin: ORIGIN, "content-type": "application/x-www-form-urlencoded" };
        const cases: [string, RequestInit, number][] = [
          ["/oauth/token", { headers: form, body: "client_id=gh_nobody" }, 400],
          ["/oauth/token", { headers: { ...form, authorization: `Basic ${Buffer.from("gh_nobody:x").toString("base64")}` }, body: "grant_type=refresh_token&refresh_token=x" }, 401],
          ["/oauth/register", { headers: { origin: ORIGIN, "content-type": "application/json" }, body: "{}" }, 400],
          ["/oauth/revoke", { headers: form, body: "client_id=gh_nobody&token=x" }, 401],
        ];
        for (const [path, init, status] of cases) {
          const response = await fetch(`${base}${path}`, { method: "POST", ...init });
          const label = `${path} ${status}`;
          expect(response.status, label).toBe(status);
          expect(response.headers.get("cache-control"), label).toBe("no-store");
          expectCors(response, label);
          if (status === 401 && init.headers && "authorization" in init.headers) {
            expect(response.headers.get("www-authenticate"), label).toMatch(/^Basic /);
          }
        }
      });

      it("the authorization and introspection endpoints and the console get no CORS (AZ-20)", async () => {
        for (const path of ["/oauth/authorize", "/oauth/introspect", "/login", "/api/me", "/api/tokens"]) {
          const response = await preflight(path);
          await response.body?.cancel();
          expect(response.headers.get("access-control-allow-origin"), `OPTIONS ${path}`).toBeNull();
        }
        const introspect = await fetch(`${base}/oauth/introspect`, {
          method: "POST",
          headers: { origin: ORIGIN, "content-type": "application/x-www-form-urlencoded" },
          body: "client_id=gh_nobody&token=x",
        });
        expect(introspect.status).toBe(401);
        expect(introspect.headers.get("access-control-allow-origin")).toBeNull();
        const login = await fetch(`${base}/login`, { headers: { origin: ORIGIN } });
        await login.body?.cancel();
        expect(login.headers.get("access-control-allow-origin")).toBeNull();
      });
    });

    describe("PRM-6 / RFC 6750: the 401 challenge from /mcp", () => {
      const initialize = JSON.stringify({
        jsonrpc: "2.0",
        id: 1,
        method: "initialize",
        params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "t", version: "1" } },
      });
      const mcpHeaders = { "content-type": "application/json", accept: "application/json, text/event-stream" };

      it("no credentials: 401 with Bearer resource_metadata and no error attribute (THREATS 40)", async () => {
        const response = await fetch(`${base}/mcp`, { method: "POST", headers: mcpHeaders, body: initialize });
        expect(response.status).toBe(401);
        const challenge = response.headers.get("www-authenticate") ?? "";
        expect(challenge).toMatch(/^Bearer /);
        expect(challenge).toContain(`resource_metadata="${base}${PRM_MCP}"`);
        expect(challenge).not.toMatch(/\berror=/);
        expect(challenge).not.toContain("offline_access");
      });

      it("GET and DELETE /mcp without credentials are challenged the same way", async () => {
        for (const method of ["GET", "DELETE"]) {
          const response = await fetch(`${base}/mcp`, { method, headers: { accept: "text/event-stream" } });
          expect(response.status, method).toBe(401);
          expect(response.headers.get("www-authenticate"), method).toContain(`resource_metadata="${base}${PRM_MCP}"`);
        }
      });

      it("a non-Bearer scheme counts as no credentials: no error attribute", async () => {
        const response = await fetch(`${base}/mcp`, {
          method: "POST",
          headers: { ...mcpHeaders, authorization: "Basic dXNlcjpwYXNz" },
          body: initialize,
        });
        expect(response.status).toBe(401);
        const challenge = response.headers.get("www-authenticate") ?? "";
        expect(challenge).toContain(`resource_metadata="${base}${PRM_MCP}"`);
        expect(challenge).not.toMatch(/\berror=/);
      });

      it("Bearer garbage: 401 with error=\"invalid_token\" and resource_metadata", async () => {
        const response = await fetch(`${base}/mcp`, {
          method: "POST",
          headers: { ...mcpHeaders, authorization: "Bearer garbage" },
          body: initialize,
        });
        expect(response.status).toBe(401);
        const challenge = response.headers.get("www-authenticate") ?? "";
        expect(challenge).toMatch(/^Bearer /);
        expect(challenge).toContain('error="invalid_token"');
        expect(challenge).toContain(`resource_metadata="${base}${PRM_MCP}"`);
        expect(challenge).not.toContain("offline_access");
      });

      it("THREATS 42: an access_token in the query string is ignored (plain challenge, no error)", async () => {
        const response = await fetch(`${base}/mcp?access_token=garbage`, { method: "POST", headers: mcpHeaders, body: initialize });
        expect(response.status).toBe(401);
        expect(response.headers.get("www-authenticate")).not.toMatch(/\berror=/);
      });
    });
  });
}
