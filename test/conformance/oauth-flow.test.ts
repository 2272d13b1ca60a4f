import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { drivers } from "../helpers/databases.js";
import { connect, signIn, tokenRequest, type CookieJar } from "../helpers/oauth.js";
import { startTestServer, type TestServer } from "../helpers/server.js";

for (const driver of drivers()) {
  describe(`authorization code flow (${driver})`, () => {
    let server: TestServer;
    let jar: CookieJar;
    beforeAll(async () => {
      server = await startTestServer(driver);
      await server.addUser("alice@example.com", "correct horse battery");
      jar = await signIn(server.base, "alice@example.com", "correct horse battery");
    });
    afterAll(async () => server?.close());

    it("registers, consents, exchanges the code and rotates the refresh token", async () => {
      const { client, tokens } = await connect(server.base, jar);
      expect(tokens.token_type).toBe("Bearer");
      expect(tokens.access_token).toMatch(/^gha_/);
      expect(tokens.refresh_token).toMatch(/^ghr_/);
      expect(tokens.scope).toBe("mcp");
      const refreshed = await tokenRequest(server.base, {
        grant_type: "refresh_token",
        refresh_token: tokens.refresh_token,
        client_id: client.client_id,
      });
      expect(refreshed.status).toBe(200);
      expect(refreshed.headers.get("cache-control")).toBe("no-store");
      expect(refreshed.body.refresh_token).not.toBe(tokens.refresh_token);
    });
  });
}
