/**
 * A real OpenID Connect provider in-process (`oidc-provider` 9, its
 * development sign-in pages) on a random loopback port, for the `oidc`
 * identity source's tests. It runs on `localhost` while Gatehouse runs on
 * 127.0.0.1: another site, as a real provider is (SameSite cookies matter).
 *
 * Any login signs in; the login is the account id (`sub`) and its claims are
 * those given in `accounts` (default: `<login>@example.com`, verified).
 * Consent at the provider is granted automatically, so its one page is the
 * sign-in form.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import Provider from "oidc-provider";
import { expect } from "vitest";
import type { OidcConfig } from "../../src/config.js";
import type { DriverName, TestDatabase } from "./databases.js";
import { CookieJar } from "./oauth.js";
import { freePort, startTestServer, type TestServer } from "./server.js";

export type Claims = Record<string, unknown>;

export interface TestIdp {
  issuer: string;
  clientId: string;
  clientSecret: string | undefined;
  close(): Promise<void>;
  /**
   * Follows an authorization URL at the provider as a browser would (its own cookies), signs in as
   * `login` and returns the redirect back to the client (the callback URL with code and state).
   */
  signIn(authorizationUrl: string, login: string): Promise<URL>;
}

export interface TestIdpOptions {
  redirectUris: string[];
  accounts?: Record<string, Claims>;
  /** A public client (token_endpoint_auth_method none: PKCE only). */
  publicClient?: boolean;
}

export async function startTestIdp(options: TestIdpOptions): Promise<TestIdp> {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "localhost", resolve));
  const issuer = `http://localhost:${(server.address() as AddressInfo).port}`;
  const clientId = "gatehouse-console";
  const clientSecret = options.publicClient ? undefined : "a long enough client secret for the test provider";
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: clientId,
        ...(clientSecret ? { client_secret: clientSecret } : { token_endpoint_auth_method: "none" }),
        redirect_uris: options.redirectUris,
        grant_types: ["authorization_code"],
        response_types: ["code"],
      },
    ],
    claims: { openid: ["sub"], email: ["email", "email_verified"], profile: ["name", "team"] },
    features: { devInteractions: { enabled: true } },
    pkce: { required: () => true },
    async findAccount(_ctx: unknown, sub: string) {
      const claims = options.accounts?.[sub] ?? { email: `${sub}@example.com`, email_verified: true };
      return { accountId: sub, claims: async () => ({ sub, ...claims }) };
    },
    // Consent at the provider is not what is tested: every request gets a grant for its scopes.
    async loadExistingGrant(ctx: {
      oidc: {
        provider: { Grant: new (init: Record<string, string>) => { addOIDCScope(s: string): void; save(): Promise<string> } };
        client: { clientId: string };
        session: { accountId?: string };
        params: { scope: string };
      };
    }) {
      if (!ctx.oidc.session.accountId) return undefined;
      const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
      grant.addOIDCScope(ctx.oidc.params.scope);
      await grant.save();
      return grant;
    },
  });
  server.on("request", provider.callback());

  async function signIn(authorizationUrl: string, login: string): Promise<URL> {
    const jar = new CookieJar();
    let url = new URL(authorizationUrl);
    for (let hop = 0; hop < 10; hop++) {
      const response = await fetch(url, { headers: { cookie: jar.header() }, redirect: "manual" });
      jar.absorb(response);
      const location = response.headers.get("location");
      if (response.status >= 300 && response.status < 400 && location) {
        const next = new URL(location, url);
        if (next.origin !== issuer) return next;
        url = next;
        continue;
      }
      const page = await response.text();
      const action = /<form[^>]*action="([^"]+)"/.exec(page)?.[1];
      if (response.status !== 200 || !action) throw new Error(`provider page ${url}: ${response.status} ${page.slice(0, 300)}`);
      const posted = await fetch(new URL(action, url), {
        method: "POST",
        redirect: "manual",
        headers: { "content-type": "application/x-www-form-urlencoded", cookie: jar.header() },
        body: new URLSearchParams({ prompt: "login", login, password: "any" }),
      });
      jar.absorb(posted);
      const after = posted.headers.get("location");
      if (!after) throw new Error(`provider sign-in: ${posted.status} ${(await posted.text()).slice(0, 300)}`);
      url = new URL(after, url);
    }
    throw new Error("too many redirects at the provider");
  }

  return {
    issuer,
    clientId,
    clientSecret,
    signIn,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface OidcPair {
  server: TestServer;
  idp: TestIdp;
  close(): Promise<void>;
}

/** A provider and a Gatehouse signing in with it, on a fresh database. */
export async function startOidcPair(
  driver: DriverName,
  options: { accounts?: Record<string, Claims>; publicClient?: boolean; oidc?: Partial<OidcConfig>; testDb?: TestDatabase } = {},
): Promise<OidcPair> {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const idp = await startTestIdp({
    redirectUris: [`${base}/login/oidc/callback`],
    ...(options.accounts ? { accounts: options.accounts } : {}),
    ...(options.publicClient ? { publicClient: true } : {}),
  });
  const server = await startTestServer(driver, {
    ...(options.testDb ? { testDb: options.testDb } : {}),
    config: {
      port,
      publicUrl: base,
      oidc: {
        issuer: idp.issuer,
        clientId: idp.clientId,
        clientSecret: idp.clientSecret,
        allowedDomains: [],
        groupsClaim: "groups",
        allowedGroups: [],
        ...options.oidc,
      },
    },
  });
  return {
    server,
    idp,
    async close() {
      await server.close();
      await idp.close();
    },
  };
}

/** /login?return_to=… in a fresh browser, the provider's sign-in as `login`, then the callback: its response. */
export async function oidcSignIn(fixture: OidcPair, login: string, returnTo = "/user", jar = new CookieJar()) {
  const { base } = fixture.server;
  const start = await fetch(`${base}/login?return_to=${encodeURIComponent(returnTo)}`, { headers: { cookie: jar.header() }, redirect: "manual" });
  jar.absorb(start);
  expect(start.status).toBe(303);
  const authorization = new URL(start.headers.get("location")!);
  expect(authorization.origin).toBe(fixture.idp.issuer);
  const callback = await fixture.idp.signIn(authorization.href, login);
  expect(callback.href.startsWith(`${base}/login/oidc/callback?`)).toBe(true);
  const response = await fetch(callback, { headers: { cookie: jar.header() }, redirect: "manual" });
  jar.absorb(response);
  return { jar, response, callback, authorization };
}

