/**
 * Grants whose parties are gone (issue 9): a code redeemed after its user was
 * removed answers 400 invalid_grant (RFC 6749 §5.2), never a 500 from a
 * foreign key; connections whose refresh token expired are swept like revoked
 * ones — off /user, their access tokens dead.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { removeUser } from "../../src/accounts/users.js";
import { ManualClock } from "../../src/clock.js";
import { api, type Credential, PASSWORD } from "../helpers/console.js";
import { drivers } from "../helpers/databases.js";
import { authorizeForCode, connect, expectOAuthError, mcpBearerStatus, postForm, registerClient, signIn } from "../helpers/oauth.js";
import { startTestServer, type TestServer } from "../helpers/server.js";

const DAY = 24 * 60 * 60 * 1000;

for (const driver of drivers()) {
  describe(`grants whose parties are gone (${driver})`, () => {
    let server: TestServer;
    let base: string;
    const clock = new ManualClock(Date.now());

    beforeAll(async () => {
      server = await startTestServer(driver, { clock });
      base = server.base;
    });
    afterAll(async () => server?.close());

    it("a code redeemed after its user was removed → 400 invalid_grant, and nothing is issued", async () => {
      await server.addUser("leaving@example.com", PASSWORD);
      const jar = await signIn(base, "leaving@example.com", PASSWORD);
      const client = await registerClient(base, { client_name: `Gone user ${driver}` });
      const issued = await authorizeForCode(base, jar, client);
      await removeUser(server.testDb.database.db, "leaving@example.com");
      const response = await postForm(`${base}/oauth/token`, {
        grant_type: "authorization_code", code: issued.code, code_verifier: issued.verifier, client_id: client.client_id, redirect_uri: issued.redirectUri,
      });
      expectOAuthError(response, 400, "invalid_grant");
    });

    it("a connection whose refresh token expired is swept: gone from /user, its access token refused", async () => {
      await server.addUser("idle@example.com", PASSWORD);
      const jar = await signIn(base, "idle@example.com", PASSWORD);
      const client = await registerClient(base, { client_name: `Idle ${driver}` });
      const { tokens } = await connect(base, jar, client);
      const listed = async () => ((await api(base, "/tokens", { cookie: jar })).json as { tokens: Credential[] }).tokens.filter((t) => t.kind === "mcp");
      expect(await listed()).toHaveLength(1);
      clock.advance(server.running.deps.config.refreshTokenTtlMs + DAY);
      await server.running.gatehouse.sweep();
      // The console session outlived by the clock: sign in again to look.
      const again = await signIn(base, "idle@example.com", PASSWORD);
      expect(((await api(base, "/tokens", { cookie: again })).json as { tokens: Credential[] }).tokens.filter((t) => t.kind === "mcp")).toEqual([]);
      expect(await mcpBearerStatus(base, tokens.access_token)).toBe(401);
    });
  });
}
