/**
 * Sign-in through the embedding app (the `host` identity source) in a real
 * browser (Chromium via playwright-core). A small host app (Hono) has its own
 * users, its own sign-in form and its own cookie session, and mounts
 * Gatehouse on the same origin with `identity: host({ currentUser,
 * signInUrl, signOutUrl })`. An MCP client registers and sends the browser to
 * /oauth/authorize; signed out, Gatehouse sends it to the host's sign-in
 * page; the user types a password there and comes back to consent, approves;
 * the client exchanges the code and a real `tools/call whoami` over /mcp
 * answers with the host's user. /user then lists the connection, and "Sign
 * out" goes on to the host's sign-out. On PGlite and PostgreSQL.
 */
import { randomBytes } from "node:crypto";
import { serve, type ServerType } from "@hono/node-server";
import { sql } from "drizzle-orm";
import { Hono } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { html } from "hono/html";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import { createGatehouse, type Gatehouse } from "../../src/gatehouse.js";
import { host } from "../../src/identity/host.js";
import { silentLogger } from "../../src/logger.js";
import { unlimited } from "../../src/storage/rate-limit.js";
import { launchChromium, type Browser } from "../helpers/chromium.js";
import { createTestDatabase, drivers, type TestDatabase } from "../helpers/databases.js";
import { modernRpc } from "../helpers/mcp.js";
import { pkce, registerClient, tokenRequest } from "../helpers/oauth.js";
import { freePort } from "../helpers/server.js";

/** The host's own accounts: its user id is what links the Gatehouse account. */
const HOST_USERS = new Map([
  ["mara", { id: "host-user-17", email: "mara@example.com", password: "correct horse battery" }],
  // Her email is an existing Gatehouse account's, not linked to her: she must not get that account.
  ["olaf", { id: "host-user-23", email: "olaf@example.com", password: "tuba tuba tuba" }],
]);

interface HostApp {
  base: string;
  gatehouse: Gatehouse;
  close(): Promise<void>;
}

/** Only a same-origin path may be a place to return to (no open redirect at the host either). */
function safePath(next: string | undefined): string {
  return next && next.startsWith("/") && !next.startsWith("//") ? next : "/";
}

async function startHostApp(testDb: TestDatabase): Promise<HostApp> {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const sessions = new Map<string, string>(); // host session cookie → username
  const gatehouse = await createGatehouse({
    config: loadConfig({}, { port, host: "127.0.0.1", publicUrl: base }),
    database: testDb.database,
    logger: silentLogger,
    appDeps: { rateLimits: { register: unlimited, clientSecret: unlimited, cimdFetch: unlimited } },
    identity: host({
      currentUser(request) {
        const token = /(?:^|;\s*)host_sid=([^;]+)/.exec(request.headers.get("cookie") ?? "")?.[1];
        const account = token ? HOST_USERS.get(sessions.get(token) ?? "") : undefined;
        return account ? { id: account.id, email: account.email } : null;
      },
      signInUrl: (returnTo) => `/signin?next=${encodeURIComponent(returnTo)}`,
      signOutUrl: "/signout",
    }),
  });
  const app = new Hono();
  app.get("/signin", (c) =>
    c.html(html`<!doctype html>
      <title>Host sign-in</title>
      <h1>Sign in to Host</h1>
      <form method="post" action="/signin">
        <input type="hidden" name="next" value="${safePath(c.req.query("next"))}" />
        <label>Username <input name="username" /></label>
        <label>Password <input name="password" type="password" /></label>
        <button type="submit">Sign in to Host</button>
      </form>`),
  );
  app.post("/signin", async (c) => {
    const form = await c.req.parseBody();
    const account = HOST_USERS.get(String(form.username));
    if (!account || account.password !== form.password) return c.text("wrong username or password", 401);
    const token = randomBytes(16).toString("hex");
    sessions.set(token, String(form.username));
    setCookie(c, "host_sid", token, { path: "/", httpOnly: true, sameSite: "Lax" });
    return c.redirect(safePath(String(form.next)), 303);
  });
  app.get("/signout", (c) => {
    const token = getCookie(c, "host_sid");
    if (token) sessions.delete(token);
    deleteCookie(c, "host_sid", { path: "/" });
    return c.html(html`<!doctype html><title>Signed out</title><h1>Signed out of Host</h1>`);
  });
  app.route("/", gatehouse.app);
  const server: ServerType = serve({ fetch: app.fetch, port, hostname: "127.0.0.1" });
  return {
    base,
    gatehouse,
    async close() {
      await new Promise((resolve) => server.close(resolve));
      await gatehouse.close();
    },
  };
}

/** The MCP client's loopback redirect URI: another origin than the host app. */
async function startClientCallback(): Promise<{ redirectUri: string; close(): Promise<void> }> {
  const port = await freePort();
  const app = new Hono().get("/callback", (c) => c.html("<!doctype html><title>Done</title><h1>Done</h1>"));
  const server: ServerType = serve({ fetch: app.fetch, port, hostname: "127.0.0.1" });
  return {
    redirectUri: `http://127.0.0.1:${port}/callback`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe.each(drivers())("host sign-in in Chromium (%s)", (driver) => {
  let browser: Browser;
  let page: Page;
  let testDb: TestDatabase;
  let hostApp: HostApp;
  let clientCallback: Awaited<ReturnType<typeof startClientCallback>>;

  beforeAll(async () => {
    browser = await launchChromium();
    testDb = await createTestDatabase(driver);
    hostApp = await startHostApp(testDb);
    clientCallback = await startClientCallback();
    page = browser.context.pages()[0] ?? (await browser.context.newPage());
    page.setDefaultTimeout(15_000);
  }, 600_000);

  afterAll(async () => {
    await browser?.close();
    await clientCallback?.close();
    await hostApp?.close();
    await testDb?.cleanup();
  });

  it("authorize → host's sign-in form → consent → Approve → token → whoami is the host's user; /user; Sign out goes to the host", async () => {
    const { base } = hostApp;
    const client = await registerClient(base, { client_name: "Notebook Assistant", redirect_uris: [clientCallback.redirectUri] });
    const { verifier, challenge } = pkce();
    const authorize = new URL(`${base}/oauth/authorize`);
    authorize.search = new URLSearchParams({
      response_type: "code", client_id: client.client_id, redirect_uri: clientCallback.redirectUri,
      code_challenge: challenge, code_challenge_method: "S256", state: "host-e2e", resource: `${base}/mcp`,
    }).toString();

    await page.goto(authorize.href);
    // Signed out: on the host's own sign-in page, which will send the browser back to the authorize request.
    await page.waitForURL((url) => url.origin === base && url.pathname === "/signin");
    expect(new URL(page.url()).searchParams.get("next")).toBe(`${authorize.pathname}${authorize.search}`);
    expect(await page.locator("h1").innerText()).toBe("Sign in to Host");
    expect((await browser.context.cookies(base)).map((c) => c.name)).not.toContain("gh_session");
    await page.getByLabel("Username").fill("mara");
    await page.getByLabel("Password").fill("correct horse battery");
    await Promise.all([
      page.waitForURL((url) => url.origin === base && url.pathname === "/oauth/authorize"),
      page.getByRole("button", { name: "Sign in to Host" }).click(),
    ]);

    // Back at Gatehouse, signed in as the host's user: consent, bound to Gatehouse's own console session.
    await expect.poll(() => page.getByRole("button", { name: "Approve" }).isVisible()).toBe(true);
    const consent = await page.locator("main").innerText();
    expect(consent).toContain("Notebook Assistant");
    expect(consent).toContain("mara@example.com");
    const cookies = await browser.context.cookies(base);
    expect(cookies.find((c) => c.name === "host_sid")).toMatchObject({ httpOnly: true, sameSite: "Lax", path: "/" });
    expect(cookies.find((c) => c.name === "gh_session")).toMatchObject({ httpOnly: true, sameSite: "Lax", path: "/" });

    await Promise.all([page.waitForURL((url) => url.href.startsWith(clientCallback.redirectUri)), page.getByRole("button", { name: "Approve" }).click()]);
    const landed = new URL(page.url());
    expect(landed.searchParams.get("state")).toBe("host-e2e");
    const tokens = await tokenRequest(base, {
      grant_type: "authorization_code", code: landed.searchParams.get("code")!, code_verifier: verifier,
      client_id: client.client_id, redirect_uri: clientCallback.redirectUri, resource: `${base}/mcp`,
    });
    expect(tokens.status).toBe(200);
    const whoami = await modernRpc(base, tokens.body.access_token!, "tools/call", { name: "whoami", arguments: {} });
    expect(whoami.status).toBe(200);
    expect(JSON.stringify(whoami.message?.result)).toContain("mara@example.com");
    // The Gatehouse account is linked by the host's user id.
    expect((await hostApp.gatehouse.users.find("mara@example.com"))?.linked).toEqual({ source: "host", subject: "host-user-17" });

    // /user in the same browser: the host's user and the new connection.
    await page.goto(`${base}/user`);
    const account = await page.locator("main").innerText();
    expect(account).toContain("Signed in as mara@example.com");
    expect(account).toContain("Notebook Assistant");

    // Sign out ends Gatehouse's session and goes on to the host's sign-out, which ends the host's.
    await Promise.all([page.waitForURL((url) => url.origin === base && url.pathname === "/signout"), page.getByRole("button", { name: "Sign out" }).click()]);
    expect(await page.locator("h1").innerText()).toBe("Signed out of Host");
    expect((await browser.context.cookies(base)).map((c) => c.name)).toEqual([]);
    await page.goto(`${base}/user`);
    await page.waitForURL((url) => url.pathname === "/signin");
    expect(new URL(page.url()).searchParams.get("next")).toBe("/user");
    // The connection outlives the browser sign-out.
    expect((await modernRpc(base, tokens.body.access_token!, "tools/call", { name: "whoami", arguments: {} })).status).toBe(200);
  });

  it("a host user whose email another account holds gets the 409 page, not that account", async () => {
    const { base } = hostApp;
    await testDb.database.db.execute(sql`INSERT INTO users (id, email) VALUES ('local-olaf', 'olaf@example.com')`);
    await page.goto(`${base}/user`);
    await page.waitForURL((url) => url.pathname === "/signin");
    await page.getByLabel("Username").fill("olaf");
    await page.getByLabel("Password").fill("tuba tuba tuba");
    const [landed] = await Promise.all([
      page.waitForResponse((r) => new URL(r.url()).pathname === "/user"),
      page.getByRole("button", { name: "Sign in to Host" }).click(),
    ]);
    expect(landed.status()).toBe(409);
    expect(await page.title()).toMatch(/^Account conflict/);
    expect(await page.getByRole("alert").innerText()).toContain("already used by another account");
    expect(await page.locator("main").innerText()).toContain("Ask an administrator");
    expect((await browser.context.cookies(base)).map((c) => c.name)).not.toContain("gh_session");
  });
});
