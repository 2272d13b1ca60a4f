/**
 * Sign-in with an OpenID Connect provider in a real browser (Chromium via
 * playwright-core): a real provider in-process (`oidc-provider` on
 * `localhost`, another site than Gatehouse on 127.0.0.1), its own sign-in
 * page typed into. An MCP client registers and sends the browser to
 * /oauth/authorize; signed out, the browser goes to /login, on to the
 * provider, signs in there, comes back through the callback to the consent
 * page, approves; the client exchanges the code and `whoami` answers with
 * the provider's user. The session and binding cookies are checked as the
 * browser holds them. On PGlite and PostgreSQL.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium, type Browser } from "../helpers/chromium.js";
import { drivers } from "../helpers/databases.js";
import { modernRpc } from "../helpers/mcp.js";
import { pkce, registerClient, tokenRequest } from "../helpers/oauth.js";
import { startOidcPair, type OidcPair } from "../helpers/oidc-provider.js";

/** The MCP client's loopback redirect URI. */
async function startClientCallback(): Promise<{ redirectUri: string; close(): Promise<void> }> {
  const server: Server = createServer((_req, res) => {
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end("<!doctype html><title>Done</title><h1>Done</h1>");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    redirectUri: `http://127.0.0.1:${(server.address() as AddressInfo).port}/callback`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe.each(drivers())("oidc sign-in in Chromium (%s)", (driver) => {
  let browser: Browser;
  let page: Page;
  let pair: OidcPair;
  let clientCallback: Awaited<ReturnType<typeof startClientCallback>>;

  beforeAll(async () => {
    browser = await launchChromium();
    pair = await startOidcPair(driver, { accounts: { "lin-7f3a": { email: "lin@example.com", email_verified: true } } });
    clientCallback = await startClientCallback();
    page = browser.context.pages()[0] ?? (await browser.context.newPage());
    page.setDefaultTimeout(15_000);
  }, 600_000);

  afterAll(async () => {
    await browser?.close();
    await clientCallback?.close();
    await pair?.close();
  });

  it("authorize → provider sign-in → consent → Approve → token → whoami is the provider's user", async () => {
    const { base } = pair.server;
    const client = await registerClient(base, { client_name: "Notebook Assistant", redirect_uris: [clientCallback.redirectUri] });
    const { verifier, challenge } = pkce();
    const authorize = new URL(`${base}/oauth/authorize`);
    authorize.search = new URLSearchParams({
      response_type: "code", client_id: client.client_id, redirect_uri: clientCallback.redirectUri,
      code_challenge: challenge, code_challenge_method: "S256", state: "e2e-state", resource: `${base}/mcp`,
    }).toString();

    await page.goto(authorize.href);
    // At the provider (another site), on its own sign-in page.
    await page.waitForURL((url) => url.origin === pair.idp.issuer);
    await page.locator('input[name="login"]').fill("lin-7f3a");
    await page.locator('input[name="password"]').fill("whatever the provider accepts");
    const binding = (await browser.context.cookies(base)).find((c) => c.name === "gh_oidc");
    expect(binding).toMatchObject({ httpOnly: true, sameSite: "Lax", path: "/" });
    await Promise.all([page.waitForURL((url) => url.origin === base && url.pathname === "/oauth/authorize"), page.locator('button[type="submit"]').click()]);

    // Back at Gatehouse, signed in as the provider's user, on the consent page.
    await expect.poll(() => page.getByRole("button", { name: "Approve" }).isVisible()).toBe(true);
    const consent = await page.locator("main").innerText();
    expect(consent).toContain("Notebook Assistant");
    expect(consent).toContain("lin@example.com");
    const session = (await browser.context.cookies(base)).find((c) => c.name === "gh_session");
    expect(session).toMatchObject({ httpOnly: true, sameSite: "Lax", path: "/" });

    await Promise.all([page.waitForURL((url) => url.href.startsWith(clientCallback.redirectUri)), page.getByRole("button", { name: "Approve" }).click()]);
    const landed = new URL(page.url());
    expect(landed.searchParams.get("state")).toBe("e2e-state");
    const tokens = await tokenRequest(base, {
      grant_type: "authorization_code", code: landed.searchParams.get("code")!, code_verifier: verifier,
      client_id: client.client_id, redirect_uri: clientCallback.redirectUri, resource: `${base}/mcp`,
    });
    expect(tokens.status).toBe(200);
    const whoami = await modernRpc(base, tokens.body.access_token!, "tools/call", { name: "whoami", arguments: {} });
    expect(whoami.status).toBe(200);
    expect(JSON.stringify(whoami.message?.result)).toContain("lin@example.com");

    // /user in the same browser is the provider's user, too.
    await page.goto(`${base}/user`);
    expect(await page.locator("main").innerText()).toContain("Signed in as lin@example.com");
  });
});
