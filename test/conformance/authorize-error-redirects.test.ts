/**
 * GATEHOUSE_ERROR_REDIRECTS=trusted (RFC 9700 §4.11.2, SPEC AZ-21): an
 * authorization error nobody consented to goes back automatically only to a
 * redirect URI we trust; otherwise the person sees a page with a link.
 * The default (`always`) is in authorize.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { drivers } from "../helpers/databases.js";
import { expectErrorPage, formFields, openAuthorize, pkce, postDecision, registerClient, signIn, visibleText, type CookieJar } from "../helpers/oauth.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { systemClock } from "../../src/clock.js";
import { addStaticClient } from "../../src/oauth/static-clients.js";

const WEB = "https://app.example/cb";
const LOOPBACK = "http://127.0.0.1:3000/cb";
const PASSWORD = "correct horse battery";
type Params = [string, string][];

for (const driver of drivers()) {
  describe(`GATEHOUSE_ERROR_REDIRECTS=trusted: errors go back automatically only to trusted redirect URIs (RFC 9700 §4.11.2, AZ-21) (${driver})`, () => {
    let server: TestServer, base: string, alice: CookieJar;
    const request = (clientId: string, redirectUri: string, overrides: Record<string, string> = {}): Params =>
      Object.entries({
        response_type: "code", client_id: clientId, redirect_uri: redirectUri, code_challenge: pkce().challenge,
        code_challenge_method: "S256", state: "st", resource: `${base}/mcp`, ...overrides,
      });

    beforeAll(async () => {
      server = await startTestServer(driver, { config: { errorRedirects: "trusted" } });
      base = server.base;
      await server.addUser("alice@example.com", PASSWORD);
      alice = await signIn(base, "alice@example.com", PASSWORD);
    });
    afterAll(async () => server?.close());

    it("a dynamic client's https redirect URI: a page naming the client and the error, with a link that carries error, state and iss", async () => {
      const web = await registerClient(base, { client_name: "Phishy Client", redirect_uris: [WEB] });
      const body = await expectErrorPage(await openAuthorize(base, alice, request(web.client_id, WEB, { response_type: "token" })));
      const text = visibleText(body);
      expect(text).toContain("Phishy Client");
      expect(text).toContain("app.example");
      expect(text).toMatch(/response_type/);
      const href = /href="([^"]+)"/.exec(body)![1]!.replaceAll("&amp;", "&");
      const link = new URL(href);
      expect(`${link.origin}${link.pathname}`).toBe(WEB);
      expect(link.searchParams.get("error")).toBe("unsupported_response_type");
      expect(link.searchParams.get("state")).toBe("st");
      expect(link.searchParams.get("iss")).toBe(base);
    });

    it("loopback and private-use redirect URIs are on the person's own device: still a 303 with the error", async () => {
      for (const uri of [LOOPBACK, "com.example.app:/cb"]) {
        const client = await registerClient(base, { client_name: "Native", redirect_uris: [uri] });
        const response = await openAuthorize(base, alice, request(client.client_id, uri, { scope: "nonexistent" }));
        expect(response.status, uri).toBe(303);
        expect(new URL(response.headers.get("location")!).searchParams.get("error")).toBe("invalid_scope");
      }
    });

    it("an operator-registered client is trusted: a 303 with the error, even to https", async () => {
      const { client } = await addStaticClient(server.testDb.database.db, systemClock, { name: "Operator's", redirectUris: [WEB], confidential: false });
      const response = await openAuthorize(base, alice, request(client.clientId, WEB, { code_challenge_method: "plain" }));
      expect(response.status).toBe(303);
      expect(new URL(response.headers.get("location")!).searchParams.get("error")).toBe("invalid_request");
    });

    it("the person's own Deny still goes straight back", async () => {
      const web = await registerClient(base, { client_name: "Web", redirect_uris: [WEB] });
      const page = await openAuthorize(base, alice, request(web.client_id, WEB));
      expect(page.status).toBe(200);
      const response = await postDecision(base, alice, { ...formFields(await page.text(), "/oauth/authorize"), decision: "deny" });
      expect(response.status).toBe(303);
      expect(new URL(response.headers.get("location")!).searchParams.get("error")).toBe("access_denied");
    });
  });
}
