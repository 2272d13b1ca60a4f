/**
 * The `host` identity source, end to end: a tiny host app with its own
 * cookie session mounts Gatehouse; an MCP client registers, the browser is
 * sent to the host's sign-in while signed out and back to consent once signed
 * in, the code becomes tokens, and `whoami` is the host's user. /user and
 * /api answer for the host user alone.
 */
import { randomBytes } from "node:crypto";
import { serve, type ServerType } from "@hono/node-server";
import { eq, sql } from "drizzle-orm";
import { Hono } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import { createGatehouse, type Gatehouse } from "../../src/gatehouse.js";
import { host, MAX_SESSIONS_PER_USER } from "../../src/identity/host.js";
import { silentLogger } from "../../src/logger.js";
import { unlimited } from "../../src/storage/rate-limit.js";
import { consoleSessions } from "../../src/storage/schema.js";
import { rowOf, type Credential } from "../helpers/console.js";
import { createTestDatabase, drivers, type TestDatabase } from "../helpers/databases.js";
import { modernRpc } from "../helpers/mcp.js";
import { CookieJar, connect, formFields, openAuthorize, pkce, registerClient } from "../helpers/oauth.js";
import { freePort } from "../helpers/server.js";

interface HostApp {
  base: string;
  gatehouse: Gatehouse;
  /** The host's users by id; a test may change one (a new email). */
  people: Map<string, { id: string; email: string }>;
  close(): Promise<void>;
}

/** A host app: `/host/login?as=<id>` signs in (its own cookie), `/host/logout` signs out; Gatehouse mounted at `/`. */
async function startHostApp(testDb: TestDatabase): Promise<HostApp> {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const people = new Map([
    ["u-alice", { id: "u-alice", email: "alice@example.com" }],
    ["u-bob", { id: "u-bob", email: "bob@example.com" }],
  ]);
  const sessions = new Map<string, string>();
  const gatehouse = await createGatehouse({
    config: loadConfig({}, { port, host: "127.0.0.1", publicUrl: base }),
    database: testDb.database,
    logger: silentLogger,
    appDeps: { rateLimits: { register: unlimited, clientSecret: unlimited, cimdFetch: unlimited } },
    identity: host({
      currentUser(request) {
        const cookie = /(?:^|;\s*)host_session=([^;]+)/.exec(request.headers.get("cookie") ?? "")?.[1];
        const id = cookie ? sessions.get(cookie) : undefined;
        return (id && people.get(id)) || null;
      },
      signInUrl: (returnTo) => `/host/login?return_to=${encodeURIComponent(returnTo)}`,
      signOutUrl: "/host/logout",
    }),
  });
  const app = new Hono();
  app.get("/host/login", (c) => {
    const who = c.req.query("as");
    if (!who || !people.has(who)) return c.text("host sign-in page", 200);
    const token = randomBytes(16).toString("hex");
    sessions.set(token, who);
    setCookie(c, "host_session", token, { path: "/", httpOnly: true, sameSite: "Lax" });
    return c.redirect(c.req.query("return_to") ?? "/", 302);
  });
  app.get("/host/logout", (c) => {
    const token = getCookie(c, "host_session");
    if (token) sessions.delete(token);
    deleteCookie(c, "host_session", { path: "/" });
    return c.text("signed out of the host", 200);
  });
  app.route("/", gatehouse.app);
  const server: ServerType = serve({ fetch: app.fetch, port, hostname: "127.0.0.1" });
  return {
    base,
    gatehouse,
    people,
    async close() {
      await new Promise((resolve) => server.close(resolve));
      await gatehouse.close();
    },
  };
}

/** GET as a browser: the jar keeps what is set (Gatehouse's console session cookie among it). */
async function get(base: string, path: string, jar: CookieJar | null): Promise<Response> {
  const response = await fetch(`${base}${path}`, { redirect: "manual", headers: jar ? { cookie: jar.header() } : {} });
  jar?.absorb(response);
  return response;
}

async function hostSignIn(base: string, id: string, jar = new CookieJar()): Promise<CookieJar> {
  const response = await fetch(`${base}/host/login?as=${id}`, { redirect: "manual" });
  expect(response.status).toBe(302);
  jar.absorb(response);
  // The first console page a browser opens starts Gatehouse's own session for this host user (its cookie).
  expect((await get(base, "/user", jar)).status).toBe(200);
  expect(jar.has("gh_session")).toBe(true);
  return jar;
}

async function connections(base: string, jar: CookieJar): Promise<Credential[]> {
  const response = await get(base, "/api/tokens", jar);
  expect(response.status).toBe(200);
  return ((await response.json()) as { tokens: Credential[] }).tokens.filter((t) => t.kind === "mcp");
}

for (const driver of drivers()) {
  describe(`host identity (${driver})`, () => {
    let testDb: TestDatabase;
    let hostApp: HostApp;
    let base: string;
    beforeAll(async () => {
      testDb = await createTestDatabase(driver);
      hostApp = await startHostApp(testDb);
      base = hostApp.base;
    });
    afterAll(async () => {
      await hostApp?.close();
      await testDb?.cleanup();
    });

    it("has no sign-in page or setup of its own: /login goes to the host's sign-in, /setup is not there", async () => {
      const login = await get(base, "/login?return_to=%2Fuser", null);
      expect(login.status).toBe(303);
      expect(login.headers.get("location")).toBe("/host/login?return_to=%2Fuser");
      expect((await fetch(`${base}/login`, { method: "POST", body: new URLSearchParams({ email: "a@b.c", password: "x" }) })).status).toBe(404);
      expect((await get(base, "/setup?token=anything", null)).status).toBe(404);
      const user = await get(base, "/user", null);
      expect(user.status).toBe(303);
    });

    it("DCR → host sign-in → consent → token → whoami is the host's user; /user lists the connection and Disconnect ends it", async () => {
      const client = await registerClient(base);
      const { challenge } = pkce();
      const params = {
        response_type: "code",
        client_id: client.client_id,
        redirect_uri: client.redirect_uris[0]!,
        code_challenge: challenge,
        code_challenge_method: "S256",
        state: "st",
        resource: `${base}/mcp`,
      };
      // Signed out: the authorize endpoint sends the browser to the host's sign-in, coming back to itself.
      const signedOut = await openAuthorize(base, null, params);
      expect(signedOut.status).toBe(303);
      const signIn = new URL(signedOut.headers.get("location")!, base);
      expect(signIn.pathname).toBe("/host/login");
      const returnTo = signIn.searchParams.get("return_to")!;
      expect(returnTo).toMatch(/^\/oauth\/authorize\?/);

      const jar = new CookieJar();
      const back = await fetch(`${base}/host/login?as=u-alice&return_to=${encodeURIComponent(returnTo)}`, { redirect: "manual" });
      jar.absorb(back);
      expect(back.headers.get("location")).toBe(returnTo);
      const consent = await get(base, returnTo, jar);
      expect(consent.status).toBe(200);
      const page = await consent.text();
      expect(page).toContain("alice@example.com");
      expect(formFields(page, "/oauth/authorize").csrf_token).toBeTruthy();

      const { tokens } = await connect(base, jar, client);
      const whoami = await modernRpc(base, tokens.access_token, "tools/call", { name: "whoami", arguments: {} });
      expect(whoami.status).toBe(200);
      expect(JSON.stringify(whoami.message?.result)).toContain("alice@example.com");

      // The account is linked by the host's id.
      const account = await hostApp.gatehouse.users.find("alice@example.com");
      expect(account?.linked).toEqual({ source: "host", subject: "u-alice" });
      expect(account?.hasPassword).toBe(false);

      const [connection] = await connections(base, jar);
      expect(connection?.client?.id).toBe(client.client_id);
      const userPage = await get(base, "/user", jar);
      const html = await userPage.text();
      expect(rowOf(html, connection!.id)).not.toBeNull();
      const disconnect = await fetch(`${base}/user/tokens/${connection!.id}/delete`, {
        method: "POST",
        redirect: "manual",
        headers: { "content-type": "application/x-www-form-urlencoded", cookie: jar.header() },
        body: new URLSearchParams(formFields(html, `/user/tokens/${connection!.id}/delete`)),
      });
      expect(disconnect.status).toBe(303);
      expect(await connections(base, jar)).toEqual([]);
      const after = await modernRpc(base, tokens.access_token, "tools/call", { name: "whoami", arguments: {} });
      expect(after.status).toBe(401);
    });

    it("a second host user never sees or ends the first one's connections; CSRF tokens are per user", async () => {
      const alice = await hostSignIn(base, "u-alice");
      const { tokens } = await connect(base, alice);
      const [aliceConnection] = await connections(base, alice);
      const aliceHtml = await (await get(base, "/user", alice)).text();
      const aliceForm = formFields(aliceHtml, `/user/tokens/${aliceConnection!.id}/delete`);

      const bob = await hostSignIn(base, "u-bob");
      expect(await connections(base, bob)).toEqual([]);
      const bobHtml = await (await get(base, "/user", bob)).text();
      expect(bobHtml).toContain("bob@example.com");
      expect(bobHtml).not.toContain(aliceConnection!.id);
      // Bob posting Alice's form (her token, her connection id) ends nothing.
      const forged = await fetch(`${base}/user/tokens/${aliceConnection!.id}/delete`, {
        method: "POST",
        redirect: "manual",
        headers: { "content-type": "application/x-www-form-urlencoded", cookie: bob.header() },
        body: new URLSearchParams(aliceForm),
      });
      expect(forged.status).toBe(403);
      const me = (await (await get(base, "/api/me", bob)).json()) as { csrf_token: string };
      const viaApi = await fetch(`${base}/api/tokens/${aliceConnection!.id}`, {
        method: "DELETE",
        headers: { cookie: bob.header(), "x-csrf-token": me.csrf_token },
      });
      expect(viaApi.status).toBe(404);
      expect(await connections(base, alice)).toHaveLength(1);
      expect((await modernRpc(base, tokens.access_token, "tools/call", { name: "whoami", arguments: {} })).status).toBe(200);
    });

    it("follows the host: a new email keeps the account (linked by id); another user in the same browser gets a new session", async () => {
      const jar = await hostSignIn(base, "u-bob");
      const first = (await (await get(base, "/api/me", jar)).json()) as { id: string; email: string };
      hostApp.people.set("u-bob", { id: "u-bob", email: "robert@example.com" });
      const renamed = (await (await get(base, "/api/me", jar)).json()) as { id: string; email: string };
      expect(renamed).toMatchObject({ id: first.id, email: "robert@example.com" });

      const sessionCookie = () => jar.header().match(/gh_session=([^;]+)/)?.[1];
      const before = sessionCookie();
      await hostSignIn(base, "u-alice", jar);
      const me = await get(base, "/api/me", jar);
      expect(((await me.json()) as { email: string }).email).toBe("alice@example.com");
      expect(sessionCookie()).not.toBe(before);
    });

    it("sign-out ends Gatehouse's session and goes on to the host's sign-out", async () => {
      const jar = await hostSignIn(base, "u-alice");
      const html = await (await get(base, "/user", jar)).text();
      const out = await fetch(`${base}/logout`, {
        method: "POST",
        redirect: "manual",
        headers: { "content-type": "application/x-www-form-urlencoded", cookie: jar.header() },
        body: new URLSearchParams(formFields(html, "/logout")),
      });
      expect(out.status).toBe(303);
      expect(out.headers.get("location")).toBe("/host/logout");
      jar.absorb(out);
      expect(jar.has("gh_session")).toBe(false);
      await get(base, "/host/logout", jar);
      expect((await get(base, "/user", jar)).status).toBe(303);
    });

    it("gatehouse.users keeps no passwords here, and never links a host user to an unlinked account by email", async () => {
      await expect(hostApp.gatehouse.users.create({ email: "carol@example.com" })).rejects.toMatchObject({ code: "host_identity" });
      await expect(hostApp.gatehouse.users.setupLink()).rejects.toMatchObject({ code: "host_identity" });
      // An account with Mallory's chosen email already exists, not linked to her id: she gets a 409, not that account.
      await testDb.database.db.execute(sql`INSERT INTO users (id, email) VALUES ('local-dave', 'dave@example.com')`);
      hostApp.people.set("u-mallory", { id: "u-mallory", email: "dave@example.com" });
      const jar = new CookieJar();
      jar.absorb(await fetch(`${base}/host/login?as=u-mallory`, { redirect: "manual" }));
      const me = await get(base, "/api/me", jar);
      expect(me.status).toBe(409);
      expect(((await me.json()) as { error: string }).error).toBe("email_taken");
      expect(jar.has("gh_session")).toBe(false);
      expect((await hostApp.gatehouse.users.find("dave@example.com"))?.id).toBe("local-dave");
    });

    it("a browser whose email another account holds gets a 409 page (console layout) on pages and authorize; /api keeps JSON", async () => {
      await testDb.database.db.execute(sql`INSERT INTO users (id, email) VALUES ('local-erin', 'erin@example.com')`);
      hostApp.people.set("u-trudy", { id: "u-trudy", email: "erin@example.com" });
      const jar = new CookieJar();
      jar.absorb(await fetch(`${base}/host/login?as=u-trudy`, { redirect: "manual" }));
      const client = await registerClient(base);
      const authorizePath = `/oauth/authorize?${new URLSearchParams({
        response_type: "code", client_id: client.client_id, redirect_uri: client.redirect_uris[0]!,
        code_challenge: pkce().challenge, code_challenge_method: "S256", state: "st", resource: `${base}/mcp`,
      })}`;
      const browser = { cookie: jar.header(), accept: "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8" };
      for (const path of ["/user", "/admin", authorizePath, "/login"]) {
        const response = await fetch(`${base}${path}`, { redirect: "manual", headers: browser });
        expect(response.status, path).toBe(409);
        expect(response.headers.get("content-type"), path).toMatch(/^text\/html/);
        expect(response.headers.get("set-cookie"), path).toBeNull();
        const text = await response.text();
        expect(text).toContain("<title>Account conflict");
        expect(text).toContain("already used by another account");
        expect(text).toContain("Ask an administrator");
      }
      const api = await fetch(`${base}/api/me`, { headers: browser });
      expect(api.status).toBe(409);
      expect(((await api.json()) as { error: string }).error).toBe("email_taken");
      // A client that does not ask for HTML keeps the JSON error on pages, too.
      const plain = await get(base, "/user", jar);
      expect(plain.status).toBe(409);
      expect(((await plain.json()) as { error: string }).error).toBe("email_taken");
    });

    it(`keeps at most ${MAX_SESSIONS_PER_USER} console sessions per host user, however many cookie-less requests come`, async () => {
      hostApp.people.set("u-carl", { id: "u-carl", email: "carl@example.com" });
      const hostOnly = new CookieJar();
      hostOnly.absorb(await fetch(`${base}/host/login?as=u-carl`, { redirect: "manual" }));
      const rows = async () => {
        const account = await hostApp.gatehouse.users.find("carl@example.com");
        return testDb.database.db.select({ idHash: consoleSessions.idHash }).from(consoleSessions).where(eq(consoleSessions.userId, account!.id));
      };
      // Our cookie dropped every time (hostOnly never absorbs it): each request starts a session.
      for (let i = 0; i < MAX_SESSIONS_PER_USER + 15; i++) {
        const response = await fetch(`${base}/user`, { redirect: "manual", headers: { cookie: hostOnly.header() } });
        expect(response.status).toBe(200);
        // One session per request (the session middleware runs once, also on /user itself).
        expect(response.headers.getSetCookie().filter((line) => /^gh_session=[^;]/.test(line))).toHaveLength(1);
        if (i === 0) expect(await rows()).toHaveLength(1);
      }
      expect(await rows()).toHaveLength(MAX_SESSIONS_PER_USER);

      // A browser keeping its cookie reuses its one session; it is among the kept ones and its forms work.
      const browser = await hostSignIn(base, "u-carl");
      expect(await rows()).toHaveLength(MAX_SESSIONS_PER_USER);
      for (let i = 0; i < 5; i++) {
        const again = await get(base, "/user", browser);
        expect(again.status).toBe(200);
        expect(again.headers.getSetCookie()).toEqual([]);
      }
      expect(await rows()).toHaveLength(MAX_SESSIONS_PER_USER);
      const html = await (await get(base, "/user", browser)).text();
      const out = await fetch(`${base}/logout`, {
        method: "POST",
        redirect: "manual",
        headers: { "content-type": "application/x-www-form-urlencoded", cookie: browser.header() },
        body: new URLSearchParams(formFields(html, "/logout")),
      });
      expect(out.status).toBe(303);
      expect(await rows()).toHaveLength(MAX_SESSIONS_PER_USER - 1);
    });
  });
}
