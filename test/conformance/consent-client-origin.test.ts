/**
 * What the consent page says about where a client came from (issue 9, 7c):
 * a dynamically registered client says it registered itself and when, never
 * from which address — registration is anonymous, and a shared public client
 * would show its first registrant's address to everyone who connects it.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { drivers } from "../helpers/databases.js";
import { openAuthorize, pkce, signIn, visibleText, type CookieJar } from "../helpers/oauth.js";
import { startTestServer, type TestServer } from "../helpers/server.js";

const PASSWORD = "correct horse battery";
const REGISTRANT_IP = "198.51.100.77";

for (const driver of drivers()) {
  describe(`consent: the client's origin (${driver})`, () => {
    let server: TestServer;
    let alice: CookieJar;

    beforeAll(async () => {
      server = await startTestServer(driver, { config: { trustProxy: true } });
      await server.addUser("alice@example.com", PASSWORD);
      alice = await signIn(server.base, "alice@example.com", PASSWORD);
    });
    afterAll(async () => server?.close());

    async function consentText(clientId: string, redirectUri: string, fromIp: string): Promise<string> {
      const response = await openAuthorize(
        server.base,
        alice,
        {
          response_type: "code", client_id: clientId, redirect_uri: redirectUri, code_challenge: pkce().challenge,
          code_challenge_method: "S256", state: "s", resource: `${server.base}/mcp`,
        },
        { "x-forwarded-for": fromIp },
      );
      const html = await response.text();
      expect(response.status, html.slice(0, 300)).toBe(200);
      return visibleText(html);
    }

    it("a registered client's consent page never shows the registering address, to anyone", async () => {
      const registration = await fetch(`${server.base}/oauth/register`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-forwarded-for": REGISTRANT_IP },
        body: JSON.stringify({ client_name: "Shared Public Client", redirect_uris: ["https://app.example/cb"], token_endpoint_auth_method: "none" }),
      });
      expect(registration.status).toBe(201);
      const { client_id } = (await registration.json()) as { client_id: string };
      for (const viewer of ["203.0.113.5", REGISTRANT_IP]) {
        const text = await consentText(client_id, "https://app.example/cb", viewer);
        expect(text).toContain("Shared Public Client");
        expect(text).toMatch(/Registered itself on .+\. Its name is self-declared and unverified\./);
        expect(text, `viewed from ${viewer}`).not.toContain(REGISTRANT_IP);
      }
    });
  });
}
