/**
 * Branding (issue 11.3): the product name and logo an operator or embedder
 * sets appear in page titles and headings, the protected resource's name and
 * the MCP server info; the logo never comes from another origin (AZ-22).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createGatehouse, loadConfig } from "../../src/index.js";
import { drivers } from "../helpers/databases.js";
import { addSignedInUser, grant } from "../helpers/mcp-fixtures.js";
import { modernRpc } from "../helpers/mcp.js";
import { openAuthorize, pkce, visibleText } from "../helpers/oauth.js";
import { startTestServer, type TestServer } from "../helpers/server.js";

const LOGO = "/brand/logo.svg";

for (const driver of drivers()) {
  describe(`branding (${driver})`, () => {
    let server: TestServer;
    let base: string;
    beforeAll(async () => {
      server = await startTestServer(driver, { config: { branding: { name: "Acme Tools", logoUrl: LOGO } } });
      base = server.base;
    });
    afterAll(async () => server?.close());

    it("the sign-in page carries the name in its title and heading, and the same-origin logo", async () => {
      const html = await (await fetch(`${base}/login`)).text();
      expect(html).toContain("<title>Sign in · Acme Tools</title>");
      expect(visibleText(html)).toContain("Sign in to Acme Tools");
      expect(html).toContain(`src="${LOGO}"`);
      expect(html).not.toContain("Gatehouse");
    });

    it("consent names the product; the protected resource and the MCP server info carry the name", async () => {
      const alice = await addSignedInUser(server, "alice@example.com");
      const access = (await grant(base, alice.jar)).access;
      const prm = (await (await fetch(`${base}/.well-known/oauth-protected-resource/mcp`)).json()) as { resource_name: string };
      expect(prm.resource_name).toBe("Acme Tools MCP");
      const discover = await modernRpc(base, access, "server/discover");
      expect(discover.text).toContain("Acme Tools");
      const client = (await grant(base, alice.jar)).client;
      const consent = await openAuthorize(base, alice.jar, {
        response_type: "code", client_id: client.client_id, redirect_uri: client.redirect_uris[0]!,
        code_challenge: pkce().challenge, code_challenge_method: "S256", state: "s", resource: `${base}/mcp`,
      });
      expect(visibleText(await consent.text())).toContain("your Acme Tools account");
    });
  });
}

describe("branding is checked like any setting", () => {
  it.each([
    [{ GATEHOUSE_BRAND_NAME: "x".repeat(61) }, "GATEHOUSE_BRAND_NAME"],
    [{ GATEHOUSE_BRAND_NAME: "Acme\u202eTools" }, "GATEHOUSE_BRAND_NAME"],
    [{ GATEHOUSE_BRAND_LOGO_URL: "https://cdn.example/logo.png" }, "GATEHOUSE_BRAND_LOGO_URL"],
    [{ GATEHOUSE_BRAND_LOGO_URL: "//cdn.example/logo.png" }, "GATEHOUSE_BRAND_LOGO_URL"],
    [{ GATEHOUSE_BRAND_LOGO_URL: "javascript:alert(1)" }, "GATEHOUSE_BRAND_LOGO_URL"],
  ])("%j is refused naming %s", (env, variable) => {
    expect(() => loadConfig(env)).toThrow(new RegExp(`^${variable}: `));
  });

  it("an embedder's branding is checked too, before anything is opened", async () => {
    await expect(createGatehouse({ config: loadConfig({}), branding: { logoUrl: "https://cdn.example/x.png" } })).rejects.toThrow(/^branding: /);
  });
});
