/**
 * The `oidc` identity source over HTTP, against a real OpenID Connect
 * provider in-process (`oidc-provider`, test/helpers/oidc-provider.ts):
 * signed out, /oauth/authorize → /login → the provider → its callback →
 * back to consent → code → token → `whoami` is the provider's user.
 * Refusals end on a page, never a crash: a missing, unknown, replayed or
 * other-browser state (400), a disallowed email domain or group, an
 * unverified email (403), an existing local account with the same email
 * (409, not taken over). One (issuer, subject) is one account.
 */
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { modernRpc } from "../helpers/mcp.js";
import { drivers } from "../helpers/databases.js";
import { consentAt, openAuthorize, pkce, registerClient, tokenRequest, visibleText } from "../helpers/oauth.js";
import { oidcSignIn, startOidcPair, type OidcPair } from "../helpers/oidc-provider.js";
import type { TestServer } from "../helpers/server.js";

async function usersNamed(server: TestServer, email: string) {
  const result = await server.testDb.database.db.execute(
    sql`select id, identity_source, subject, password_hash from users where email = ${email}`,
  );
  return (result as { rows: unknown[] }).rows as { id: string; identity_source: string | null; subject: string | null; password_hash: string | null }[];
}

describe.each(drivers())("oidc identity source (%s)", (driver) => {
  let fixture: OidcPair;
  beforeAll(async () => {
    fixture = await startOidcPair(driver, {
      accounts: {
        ada: { email: "ada@example.com", email_verified: true, name: "Ada" },
        mallory: { email: "mallory@elsewhere.test", email_verified: true },
        unverified: { email: "unverified@example.com", email_verified: false },
        grace: { email: "grace@example.com", email_verified: true },
      },
      oidc: { allowedDomains: ["example.com"] },
    });
  });
  afterAll(async () => {
    await fixture?.close();
  });

  it("signed out: authorize → /login → provider → callback → consent → token → whoami is the provider's user", async () => {
    const { base } = fixture.server;
    const client = await registerClient(base);
    const { verifier, challenge } = pkce();
    const params = {
      response_type: "code", client_id: client.client_id, redirect_uri: client.redirect_uris[0]!,
      code_challenge: challenge, code_challenge_method: "S256", state: "client-state", resource: `${base}/mcp`,
    };
    const signedOut = await openAuthorize(base, null, params);
    expect([302, 303]).toContain(signedOut.status);
    const toLogin = new URL(signedOut.headers.get("location")!, base);
    expect(toLogin.pathname).toBe("/login");
    const returnTo = toLogin.searchParams.get("return_to")!;
    expect(returnTo.startsWith("/oauth/authorize?")).toBe(true);

    const { jar, response, authorization } = await oidcSignIn(fixture, "ada", returnTo);
    expect(authorization.searchParams.get("code_challenge_method")).toBe("S256");
    expect(authorization.searchParams.get("nonce")).toBeTruthy();
    expect(authorization.searchParams.get("redirect_uri")).toBe(`${base}/login/oidc/callback`);
    expect(response.status).toBe(303);
    expect(response.headers.get("location")).toBe(returnTo);

    const back = await consentAt(`${base}${returnTo}`, jar);
    const code = back.searchParams.get("code")!;
    expect(back.searchParams.get("state")).toBe("client-state");
    const tokens = await tokenRequest(base, {
      grant_type: "authorization_code", code, code_verifier: verifier, client_id: client.client_id,
      redirect_uri: client.redirect_uris[0]!, resource: `${base}/mcp`,
    });
    expect(tokens.status).toBe(200);
    const whoami = await modernRpc(base, tokens.body.access_token!, "tools/call", { name: "whoami", arguments: {} });
    expect(whoami.status).toBe(200);
    expect(JSON.stringify(whoami.message?.result)).toContain("ada@example.com");

    const rows = await usersNamed(fixture.server, "ada@example.com");
    expect(rows).toEqual([expect.objectContaining({ identity_source: `oidc:${fixture.idp.issuer}`, subject: "ada", password_hash: null })]);
  });

  it("the same subject signing in twice is one account; /user shows it", async () => {
    const first = await oidcSignIn(fixture, "ada");
    const second = await oidcSignIn(fixture, "ada");
    expect(first.response.status).toBe(303);
    expect(second.response.status).toBe(303);
    expect(await usersNamed(fixture.server, "ada@example.com")).toHaveLength(1);
    const page = await fetch(`${fixture.server.base}/user`, { headers: { cookie: second.jar.header() } });
    expect(page.status).toBe(200);
    expect(visibleText(await page.text())).toContain("ada@example.com");
  });

  it("a replayed callback, an unknown or missing state, and another browser's callback get a 400 page", async () => {
    const { base } = fixture.server;
    const { jar, callback, response } = await oidcSignIn(fixture, "ada");
    expect(response.status).toBe(303);
    const replay = await fetch(callback, { headers: { cookie: jar.header() }, redirect: "manual" });
    expect(replay.status).toBe(400);
    expect(visibleText(await replay.text())).toContain("Sign-in expired");

    const noState = new URL(callback);
    noState.searchParams.delete("state");
    expect((await fetch(noState, { headers: { cookie: jar.header() }, redirect: "manual" })).status).toBe(400);
    const badState = new URL(callback);
    badState.searchParams.set("state", "x".repeat(43));
    expect((await fetch(badState, { headers: { cookie: jar.header() }, redirect: "manual" })).status).toBe(400);
    expect((await fetch(`${base}/login/oidc/callback`, { redirect: "manual" })).status).toBe(400);

    // Started in one browser, finished in another (login CSRF): refused, and no session for either.
    const start = await fetch(`${base}/login`, { redirect: "manual" });
    const stolen = await fixture.idp.signIn(start.headers.get("location")!, "ada");
    const victim = await fetch(stolen, { redirect: "manual" });
    expect(victim.status).toBe(400);
    expect(victim.headers.getSetCookie().some((line) => line.startsWith("gh_session="))).toBe(false);
  });

  it("an email outside the allowed domains is refused with a page and no account is created", async () => {
    const { response } = await oidcSignIn(fixture, "mallory");
    expect(response.status).toBe(403);
    expect(visibleText(await response.text())).toContain("elsewhere.test");
    expect(response.headers.getSetCookie().some((line) => line.startsWith("gh_session="))).toBe(false);
    expect(await usersNamed(fixture.server, "mallory@elsewhere.test")).toHaveLength(0);
  });

  it("an unverified email is refused and no account is created", async () => {
    const { response } = await oidcSignIn(fixture, "unverified");
    expect(response.status).toBe(403);
    expect(await usersNamed(fixture.server, "unverified@example.com")).toHaveLength(0);
  });

  it("a local account with the same email is not taken over: 409 page, the account stays unlinked", async () => {
    await fixture.server.addUser("grace@example.com", "a local password of grace");
    const { response } = await oidcSignIn(fixture, "grace");
    expect(response.status).toBe(409);
    expect(visibleText(await response.text())).toContain("not linked");
    expect(response.headers.getSetCookie().some((line) => line.startsWith("gh_session="))).toBe(false);
    const rows = await usersNamed(fixture.server, "grace@example.com");
    expect(rows).toEqual([expect.objectContaining({ identity_source: null, subject: null })]);
    expect(rows[0]!.password_hash).not.toBeNull();
  });

  it("no password sign-in and no /setup in oidc mode; sign-out ends on a page, not back at the provider", async () => {
    const { base } = fixture.server;
    const post = await fetch(`${base}/login`, {
      method: "POST", redirect: "manual", headers: { "content-type": "application/x-www-form-urlencoded", origin: base },
      body: "email=grace%40example.com&password=a+local+password+of+grace",
    });
    expect(post.status).toBe(404);
    expect((await fetch(`${base}/setup`, { redirect: "manual" })).status).toBe(404);
    const out = await fetch(`${base}/login/oidc/signed-out`);
    expect(out.status).toBe(200);
    expect(visibleText(await out.text())).toContain("Signed out");
  });

  it("return_to stays same-origin: an absolute URL goes to /user", async () => {
    const { response } = await oidcSignIn(fixture, "ada", "https://evil.example/x");
    expect(response.headers.get("location")).toBe("/user");
  });
});

describe.each(drivers())("oidc identity source: public client and allowed groups (%s)", (driver) => {
  let fixture: OidcPair;
  beforeAll(async () => {
    fixture = await startOidcPair(driver, {
      publicClient: true,
      accounts: {
        gina: { email: "gina@example.com", email_verified: true, team: ["ops", "mcp-users"] },
        hank: { email: "hank@example.com", email_verified: true, team: ["ops"] },
      },
      oidc: { groupsClaim: "team", allowedGroups: ["mcp-users"] },
    });
  });
  afterAll(async () => {
    await fixture?.close();
  });

  it("a member of an allowed group signs in with PKCE alone; a non-member gets a 403 page and no account", async () => {
    const gina = await oidcSignIn(fixture, "gina");
    expect(gina.response.status).toBe(303);
    expect(await usersNamed(fixture.server, "gina@example.com")).toHaveLength(1);
    const hank = await oidcSignIn(fixture, "hank");
    expect(hank.response.status).toBe(403);
    expect(await usersNamed(fixture.server, "hank@example.com")).toHaveLength(0);
  });
});


