/**
 * Client ID Metadata Documents at the authorization endpoint (SPEC-CHECKLIST
 * CIMD-2..CIMD-12; THREATS 4, 30-31; PRODUCT.md "Clients and redirects"): an
 * https `client_id` is fetched (only a 200, no redirects, at most 5 KB, no
 * private or loopback address unless allow-listed), must name itself, and a
 * document that cannot be used is an error page, never a redirect. The
 * documents come from a local HTTPS fixture with a self-signed certificate
 * that the server is told to trust; "localhost" is allow-listed, 127.0.0.1
 * and [::1] are not.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { drivers } from "../helpers/databases.js";
import {
  formFields, openAuthorize, pkce, postDecision, signIn, startHttpsFixture, tokenRequest, visibleText,
  type CookieJar, type HttpsFixture,
} from "../helpers/oauth.js";
import { startTestServer, type TestServer } from "../helpers/server.js";

const CIMD_CB = "http://127.0.0.1:7777/cb";
const LOOPBACK_WARNING = /(your own|this) (computer|device|machine)/i;
const PASSWORD = "correct horse battery";

// ---- CIMD fixture: https://localhost:<port>/<driver>/<name>.json -------------------------------
let fixture: HttpsFixture;

function documents(req: IncomingMessage, res: ServerResponse, port: number) {
  const path = req.url ?? "/";
  const self = `https://localhost:${port}${path}`;
  const doc = (extra: Record<string, unknown> = {}) => ({
    client_id: self, client_name: "Fixture App", redirect_uris: [CIMD_CB], token_endpoint_auth_method: "none", ...extra,
  });
  const json = (body: unknown, status = 200) => {
    res.writeHead(status, { "content-type": "application/json" });
    res.end(JSON.stringify(body));
  };
  switch (path.split("/").pop()) {
    case "client.json": return json(doc());
    case "mismatch.json": return json(doc({ client_id: `https://localhost:${port}/other.json` }));
    case "redirect.json":
      res.writeHead(302, { location: path.replace("redirect.json", "redirect-target.json") });
      return res.end();
    case "redirect-target.json": return json(doc({ client_id: self.replace("redirect-target.json", "redirect.json") }));
    case "secret.json": return json(doc({ token_endpoint_auth_method: "client_secret_basic", client_secret: "s" }));
    case "no-redirects.json": return json({ client_id: self, client_name: "No Redirects" });
    case "js-redirect.json": return json(doc({ redirect_uris: ["javascript:alert(1)"] }));
    case "big.json": return json(doc({ padding: "x".repeat(6 * 1024) }));
    case "flaky.json": return fixture.hits.get(path) === 1 ? json({ error: "busy" }, 500) : json(doc());
    default:
      res.writeHead(404);
      return res.end("not found");
  }
}

beforeAll(async () => {
  fixture = await startHttpsFixture(documents);
});
afterAll(async () => fixture?.close());

type Params = [string, string][];

async function expectErrorPage(response: Response): Promise<void> {
  const body = await response.text();
  expect(response.status, body.slice(0, 300)).toBe(400);
  expect(response.headers.get("location")).toBeNull();
  expect(response.headers.get("content-type")).toMatch(/^text\/html/);
  expect(response.headers.get("content-security-policy")).toContain("frame-ancestors 'none'");
}

function location(response: Response): URL {
  expect(response.status).toBe(303);
  return new URL(response.headers.get("location")!);
}

for (const driver of drivers()) {
  describe(`Client ID Metadata Documents (${driver})`, () => {
    let server: TestServer;
    let base: string;
    let alice: CookieJar;
    const cimd = (name: string, host = "localhost") => `https://${host}:${fixture.port}/${driver}/${name}`;
    const cimdRequest = (clientId: string, redirectUri = CIMD_CB, challenge = pkce().challenge): Params => [
      ["response_type", "code"], ["client_id", clientId], ["redirect_uri", redirectUri], ["code_challenge", challenge],
      ["code_challenge_method", "S256"], ["state", "c"], ["resource", `${base}/mcp`],
    ];
    const open = (jar: CookieJar | null, params: Params) => openAuthorize(base, jar, params);
    async function consent(jar: CookieJar, params: Params) {
      const response = await open(jar, params);
      const html = await response.text();
      expect(response.status, html.slice(0, 300)).toBe(200);
      return { html, fields: formFields(html, "/oauth/authorize") };
    }

    beforeAll(async () => {
      server = await startTestServer(driver, { config: { cimdAllowHosts: ["localhost"] }, appDeps: { cimd: { ca: fixture.cert } } });
      base = server.base;
      await server.addUser("alice@example.com", PASSWORD);
      alice = await signIn(base, "alice@example.com", PASSWORD);
    });
    afterAll(async () => server?.close());

    it("consent shows the document's host; the code is redeemed with the URL as client_id and no secret", async () => {
      const clientId = cimd("client.json");
      const { verifier, challenge } = pkce();
      const { html, fields } = await consent(alice, cimdRequest(clientId, CIMD_CB, challenge));
      const text = visibleText(html);
      expect(text).toContain("Fixture App");
      expect(text).toContain("localhost");
      expect(text).toMatch(LOOPBACK_WARNING);
      const url = location(await postDecision(base, alice, { ...fields, decision: "approve" }));
      expect(`${url.origin}${url.pathname}`).toBe(CIMD_CB);
      expect(url.searchParams.get("iss")).toBe(base);
      const tokens = await tokenRequest(base, {
        grant_type: "authorization_code", code: url.searchParams.get("code")!, code_verifier: verifier,
        client_id: clientId, redirect_uri: CIMD_CB, resource: `${base}/mcp`,
      });
      expect(tokens.status, JSON.stringify(tokens.body)).toBe(200);
      expect(tokens.body.access_token).toEqual(expect.any(String));
    });

    const broken: [string, string][] = [
      ["CIMD-4: client_id inside differs", "mismatch.json"],
      ["CIMD-3: 404", "missing.json"],
      ["CIMD-6: a shared-secret auth method", "secret.json"],
      ["CIMD-5: no redirect_uris", "no-redirects.json"],
      ["THREATS 4: a javascript: redirect URI", "js-redirect.json"],
      ["CIMD-11: larger than 5 KB", "big.json"],
    ];
    for (const [name, file] of broken) {
      for (const jar of ["signed in", "signed out"]) {
        it(`${name} → error page, no redirect (${jar})`, async () => {
          await expectErrorPage(await open(jar === "signed in" ? alice : null, cimdRequest(cimd(`${jar.replace(" ", "-")}/${file}`))));
        });
      }
    }

    it("CIMD-3: a 302 is not followed: error page, and the Location target is never fetched", async () => {
      await expectErrorPage(await open(alice, cimdRequest(cimd("redirect.json"))));
      expect(fixture.hits.get(`/${driver}/redirect.json`)).toBe(1);
      expect(fixture.hits.get(`/${driver}/redirect-target.json`)).toBeUndefined();
    });

    it("CIMD-7: a redirect_uri the document does not list → error page", async () => {
      await expectErrorPage(await open(alice, cimdRequest(cimd("client.json"), "https://evil.example/cb")));
    });

    it("CIMD-9: a failed fetch is not cached; the next request succeeds", async () => {
      await expectErrorPage(await open(alice, cimdRequest(cimd("flaky.json"))));
      expect((await open(alice, cimdRequest(cimd("flaky.json")))).status).toBe(200);
    });

    it("CIMD-10 / THREATS 30: a loopback address that is not allow-listed is refused before any connection", async () => {
      const before = fixture.connections();
      await expectErrorPage(await open(alice, cimdRequest(cimd("client.json", "127.0.0.1"))));
      await expectErrorPage(await open(null, cimdRequest(cimd("client.json", "[::1]"))));
      expect(fixture.connections()).toBe(before);
    });

    it("CIMD-10: with the default configuration even localhost is refused, before any connection", async () => {
      const shared = driver === "postgres" ? { testDb: server.testDb } : {};
      const plain = await startTestServer(driver, { ...shared, appDeps: { cimd: { ca: fixture.cert } } });
      try {
        const jar = driver === "postgres" ? await signIn(plain.base, "alice@example.com", PASSWORD) : null;
        const before = fixture.connections();
        for (const host of ["localhost", "127.0.0.1"]) {
          // A path no test fetched before, so no cached copy in a shared database can answer for it.
          const params = cimdRequest(cimd("default-config/client.json", host)).map(([k, v]): [string, string] => [k, k === "resource" ? `${plain.base}/mcp` : v]);
          await expectErrorPage(await openAuthorize(plain.base, jar, params));
        }
        expect(fixture.connections()).toBe(before);
      } finally {
        await plain.close();
      }
    });

    it("CIMD-2: a client_id URL with dot segments, a query, a fragment, userinfo or no path is refused without a fetch", async () => {
      const before = fixture.connections();
      for (const clientId of [
        `https://localhost:${fixture.port}/${driver}/x/../client.json`, `${cimd("client.json")}?x=1`, `${cimd("client.json")}#f`,
        `https://user@localhost:${fixture.port}/${driver}/client.json`, `https://localhost:${fixture.port}`, `https://localhost:${fixture.port}/`,
      ]) {
        await expectErrorPage(await open(alice, cimdRequest(clientId)));
      }
      expect(fixture.connections()).toBe(before);
    });
  });
}
