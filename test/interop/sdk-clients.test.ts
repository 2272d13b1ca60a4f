/**
 * The official MCP clients connect to a running Gatehouse from nothing, each
 * with its own `OAuthClientProvider` (ISSUE 4, "Done when"; PRODUCT §1, §5, §6):
 *
 * 1. `@modelcontextprotocol/sdk` 1.x speaking 2025-11-25: the first /mcp request
 *    gets a 401 whose `WWW-Authenticate` leads to the protected-resource metadata,
 *    then the authorization-server metadata; it registers by DCR, sends the user
 *    through consent with PKCE, exchanges the code, calls `whoami`; after the
 *    access token expires it refreshes by itself and keeps its MCP session.
 * 2. `@modelcontextprotocol/client` 2.x speaking 2026-07-28 with a Client ID
 *    Metadata Document served over HTTPS from a local fixture: no registration
 *    at all; otherwise the same life.
 * 3. The same 2.x library in its default (legacy, 2025-11-25) mode with DCR, on
 *    the same URL: both protocol generations from one client library.
 *
 * "The browser" is plain HTTP with a signed-in session cookie: it opens the
 * authorization URL the SDK hands to `redirectToAuthorization`, approves, and
 * reads the code from the 303 Location without following it. Access-token
 * expiry is forced with a manual clock, never by sleeping.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { randomBytes } from "node:crypto";
import {
  Client as ModernClient,
  StreamableHTTPClientTransport as ModernTransport,
  UnauthorizedError as ModernUnauthorizedError,
  type OAuthClientProvider as ModernOAuthClientProvider,
  type OAuthClientMetadata as ModernClientMetadata,
  type OAuthDiscoveryState,
  type StoredOAuthClientInformation,
  type StoredOAuthTokens,
} from "@modelcontextprotocol/client";
import { UnauthorizedError as LegacyUnauthorizedError, type OAuthClientProvider as LegacyOAuthClientProvider } from "@modelcontextprotocol/sdk/client/auth.js";
import { Client as LegacyClient } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport as LegacyTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { OAuthClientInformationMixed, OAuthClientMetadata, OAuthTokens } from "@modelcontextprotocol/sdk/shared/auth.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ManualClock } from "../../src/clock.js";
import { drivers } from "../helpers/databases.js";
import { consentAt, signIn, startHttpsFixture, type CookieJar, type HttpsFixture } from "../helpers/oauth.js";
import { startTestServer, type TestServer } from "../helpers/server.js";

const PASSWORD = "correct horse battery";
const ACCESS_TOKEN_TTL_MS = 60 * 60 * 1000;

// ---- what the clients send, as seen from their own fetch ---------------------------------------

interface Seen {
  method: string;
  /** Origin and path, without the query. */
  url: string;
  status: number;
  /** Request headers, lower-cased names. */
  headers: Headers;
  /** The request body as text (form bodies for the token endpoint, JSON-RPC for /mcp). */
  body: string;
}

type FetchFn = (url: string | URL, init?: RequestInit) => Promise<Response>;

/** A fetch for the transport that records every request it makes (the SDKs route discovery, DCR and token calls through it too). */
function recordingFetch(log: Seen[]): FetchFn {
  return async (url, init) => {
    const response = await fetch(url, init);
    const target = new URL(String(url));
    log.push({
      method: (init?.method ?? "GET").toUpperCase(),
      url: `${target.origin}${target.pathname}`,
      status: response.status,
      headers: new Headers(init?.headers),
      body: typeof init?.body === "string" || init?.body instanceof URLSearchParams ? String(init.body) : "",
    });
    return response;
  };
}

const at = (log: Seen[], base: string, path: string) => log.filter((s) => s.url === `${base}${path}`);
const tokenGrants = (log: Seen[], base: string, grant: string) =>
  at(log, base, "/oauth/token").filter((s) => new URLSearchParams(s.body).get("grant_type") === grant);
const mcpMethods = (log: Seen[], base: string) =>
  at(log, base, "/mcp")
    .filter((s) => s.method === "POST" && s.status < 300)
    .map((s) => (JSON.parse(s.body) as { method?: string }).method);

// ---- the browser: consent answered over HTTP with a signed-in session ----------------------------

interface BrowserVisit {
  authorizationUrl: URL;
  callback: URL;
}

/** Opens the authorization URL as the signed-in user, approves, and keeps where the 303 points. */
async function approveInBrowser(jar: CookieJar, authorizationUrl: URL, visits: BrowserVisit[]): Promise<void> {
  const callback = await consentAt(authorizationUrl, jar, "approve");
  visits.push({ authorizationUrl, callback });
}

/** The authorization response: code, state and iss (RFC 9207) checked against the request. */
function expectAuthorizationResponse(visit: BrowserVisit, redirectUri: string, issuer: string): string {
  const { authorizationUrl, callback } = visit;
  expect(`${callback.origin}${callback.pathname}`).toBe(redirectUri);
  expect(callback.searchParams.get("error"), callback.href).toBeNull();
  expect(callback.searchParams.get("state")).toBe(authorizationUrl.searchParams.get("state"));
  expect(callback.searchParams.get("iss")).toBe(issuer);
  const code = callback.searchParams.get("code");
  expect(code, callback.href).toBeTruthy();
  return code!;
}

/** The authorization request the SDK built: PKCE S256, the resource indicator, and the redirect URI. */
function expectAuthorizationRequest(url: URL, base: string, clientId: string, redirectUri: string): void {
  expect(`${url.origin}${url.pathname}`).toBe(`${base}/oauth/authorize`);
  expect(url.searchParams.get("response_type")).toBe("code");
  expect(url.searchParams.get("client_id")).toBe(clientId);
  expect(url.searchParams.get("redirect_uri")).toBe(redirectUri);
  expect(url.searchParams.get("code_challenge_method")).toBe("S256");
  expect(url.searchParams.get("code_challenge")).toMatch(/^[A-Za-z0-9_-]{43}$/);
  expect(url.searchParams.get("resource")).toBe(`${base}/mcp`);
  expect(url.searchParams.get("state")).toBeTruthy();
}

interface Whoami {
  user: { id: string; email: string };
  client: { id: string; name: string };
  scopes: string[];
}

function whoamiOf(result: unknown): Whoami {
  const structured = (result as { structuredContent?: Whoami; isError?: boolean }).structuredContent;
  expect((result as { isError?: boolean }).isError ?? false, JSON.stringify(result)).toBe(false);
  expect(structured, JSON.stringify(result)).toBeDefined();
  return structured!;
}

// ---- OAuthClientProvider for @modelcontextprotocol/sdk 1.x (in memory) --------------------------

class LegacySdkProvider implements LegacyOAuthClientProvider {
  client: OAuthClientInformationMixed | undefined;
  /** Every token response the SDK saved, in order. */
  readonly savedTokens: OAuthTokens[] = [];
  readonly visits: BrowserVisit[] = [];
  private verifier: string | undefined;
  private lastState: string | undefined;

  constructor(
    private readonly jar: CookieJar,
    readonly redirectUrl: string,
  ) {}

  get clientMetadata(): OAuthClientMetadata {
    return {
      client_name: "SDK 1.x interop",
      redirect_uris: [this.redirectUrl],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
    };
  }
  state(): string {
    this.lastState = randomBytes(16).toString("base64url");
    return this.lastState;
  }
  clientInformation() {
    return this.client;
  }
  saveClientInformation(info: OAuthClientInformationMixed): void {
    this.client = info;
  }
  tokens() {
    return this.savedTokens.at(-1);
  }
  saveTokens(tokens: OAuthTokens): void {
    this.savedTokens.push(tokens);
  }
  async redirectToAuthorization(url: URL): Promise<void> {
    await approveInBrowser(this.jar, url, this.visits);
  }
  saveCodeVerifier(verifier: string): void {
    this.verifier = verifier;
  }
  codeVerifier(): string {
    if (!this.verifier) throw new Error("no code verifier saved");
    return this.verifier;
  }
}

// ---- OAuthClientProvider for @modelcontextprotocol/client 2.x (in memory) ------------------------

class ModernSdkProvider implements ModernOAuthClientProvider {
  client: StoredOAuthClientInformation | undefined;
  readonly savedTokens: StoredOAuthTokens[] = [];
  readonly savedClients: StoredOAuthClientInformation[] = [];
  readonly visits: BrowserVisit[] = [];
  private verifier: string | undefined;
  private discovery: OAuthDiscoveryState | undefined;

  constructor(
    private readonly jar: CookieJar,
    readonly redirectUrl: string,
    private readonly name: string,
    /** CIMD: the HTTPS URL of this client's metadata document, used as its client_id. */
    readonly clientMetadataUrl?: string,
  ) {}

  get clientMetadata(): ModernClientMetadata {
    return {
      client_name: this.name,
      redirect_uris: [this.redirectUrl],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
    };
  }
  state(): string {
    return randomBytes(16).toString("base64url");
  }
  clientInformation() {
    return this.client;
  }
  saveClientInformation(info: StoredOAuthClientInformation): void {
    this.savedClients.push(info);
    this.client = info;
  }
  tokens() {
    return this.savedTokens.at(-1);
  }
  saveTokens(tokens: StoredOAuthTokens): void {
    this.savedTokens.push(tokens);
  }
  async redirectToAuthorization(url: URL): Promise<void> {
    await approveInBrowser(this.jar, url, this.visits);
  }
  saveCodeVerifier(verifier: string): void {
    this.verifier = verifier;
  }
  codeVerifier(): string {
    if (!this.verifier) throw new Error("no code verifier saved");
    return this.verifier;
  }
  /** Kept with the verifier, so the callback leg is checked against the same authorization server (SEP-2352). */
  saveDiscoveryState(state: OAuthDiscoveryState): void {
    this.discovery = state;
  }
  discoveryState() {
    return this.discovery;
  }
}

/** A connect() that must stop for user authorization (the SDKs' documented first step). */
async function expectUnauthorized(connecting: Promise<unknown>, isUnauthorized: (e: unknown) => boolean): Promise<void> {
  const error = await connecting.then(
    () => new Error("connect() succeeded without authorization"),
    (e: unknown) => e,
  );
  if (!isUnauthorized(error)) throw error;
}

// ---- the Client ID Metadata Document, served over HTTPS with a self-signed certificate ---------

function cimdRedirectUri(port: number): string {
  return `http://127.0.0.1:${port}/cimd-callback`;
}

function serveClientDocument(req: IncomingMessage, res: ServerResponse, port: number): void {
  if (req.url !== "/client.json") {
    res.writeHead(404);
    res.end("not found");
    return;
  }
  res.writeHead(200, { "content-type": "application/json" });
  res.end(
    JSON.stringify({
      client_id: `https://localhost:${port}/client.json`,
      client_name: "SDK 2.x CIMD interop",
      redirect_uris: [cimdRedirectUri(port)],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
    }),
  );
}

for (const driver of drivers()) {
  describe(`official MCP SDK clients against Gatehouse (${driver})`, () => {
    const clock = new ManualClock();
    let fixture: HttpsFixture;
    let server: TestServer;
    let base: string;
    let jar: CookieJar;
    let alice: { id: string; email: string };

    beforeAll(async () => {
      fixture = await startHttpsFixture(serveClientDocument);
      server = await startTestServer(driver, {
        clock,
        config: { cimdAllowHosts: ["localhost"] },
        appDeps: { cimd: { ca: fixture.cert } },
      });
      base = server.base;
      alice = await server.addUser("alice@example.com", PASSWORD);
      jar = await signIn(base, "alice@example.com", PASSWORD);
    });
    afterAll(async () => {
      await server?.close();
      await fixture?.close();
    });

    it("@modelcontextprotocol/sdk 1.x (2025-11-25): 401 discovery, DCR, PKCE consent, whoami, then automatic refresh on the same session", async () => {
      const redirectUri = "http://127.0.0.1:9101/callback";
      const provider = new LegacySdkProvider(jar, redirectUri);
      const log: Seen[] = [];
      const mcpUrl = new URL(`${base}/mcp`);
      const client = new LegacyClient({ name: "sdk-1x-interop", version: "1.0.0" });

      // First connect: 401 → PRM → AS metadata → DCR → authorization (the browser approves) → UnauthorizedError.
      const first = new LegacyTransport(mcpUrl, { authProvider: provider, fetch: recordingFetch(log) });
      await expectUnauthorized(client.connect(first), (e) => e instanceof LegacyUnauthorizedError);

      const challenge = log[0]!;
      expect(challenge).toMatchObject({ method: "POST", url: `${base}/mcp`, status: 401 });
      expect(challenge.headers.has("authorization")).toBe(false);
      const discovery = log.map((s) => `${s.method} ${s.url.slice(base.length)} ${s.status}`);
      expect(discovery).toEqual([
        "POST /mcp 401",
        "GET /.well-known/oauth-protected-resource/mcp 200",
        "GET /.well-known/oauth-authorization-server 200",
        "POST /oauth/register 201",
      ]);
      const registered = provider.client!;
      expect(registered.client_id).toBeTruthy();
      expect(registered.client_id).not.toMatch(/^https:/);
      expect(provider.visits).toHaveLength(1);
      expectAuthorizationRequest(provider.visits[0]!.authorizationUrl, base, registered.client_id, redirectUri);
      const code = expectAuthorizationResponse(provider.visits[0]!, redirectUri, base);
      expect(provider.savedTokens).toHaveLength(0);

      // finishAuth redeems the code with the verifier; then connect again on a fresh transport.
      await first.finishAuth(code);
      const [exchange] = tokenGrants(log, base, "authorization_code");
      expect(exchange?.status).toBe(200);
      const exchangeForm = new URLSearchParams(exchange!.body);
      expect(exchangeForm.get("code_verifier")).toBeTruthy();
      expect(exchangeForm.get("redirect_uri")).toBe(redirectUri);
      expect(exchangeForm.get("resource")).toBe(`${base}/mcp`);
      expect(provider.savedTokens).toHaveLength(1);
      const firstTokens = provider.savedTokens[0]!;
      expect(firstTokens.token_type.toLowerCase()).toBe("bearer");
      expect(firstTokens.refresh_token).toBeTruthy();
      expect(firstTokens.expires_in).toBe(ACCESS_TOKEN_TTL_MS / 1000);

      const transport = new LegacyTransport(mcpUrl, { authProvider: provider, fetch: recordingFetch(log) });
      await client.connect(transport);
      try {
        const sessionId = transport.sessionId;
        expect(sessionId).toBeTruthy();
        expect(transport.protocolVersion).toBe("2025-11-25");

        const me = whoamiOf(await client.callTool({ name: "whoami", arguments: {} }));
        expect(me.user).toEqual({ id: alice.id, email: "alice@example.com" });
        expect(me.client).toMatchObject({ id: registered.client_id, name: "SDK 1.x interop" });

        // The access token expires; the next call gets a 401, the SDK refreshes and retries by itself.
        clock.advance(ACCESS_TOKEN_TTL_MS + 1);
        const before = log.length;
        const again = whoamiOf(await client.callTool({ name: "whoami", arguments: {} }));
        expect(again.user.email).toBe("alice@example.com");
        expect(again.client.id).toBe(registered.client_id);

        const after = log.slice(before);
        const expired = after.find((s) => s.url === `${base}/mcp` && s.status === 401);
        expect(expired, "the expired access token was refused with 401").toBeDefined();
        expect(expired!.headers.get("authorization")).toBe(`Bearer ${firstTokens.access_token}`);
        const refreshes = tokenGrants(after, base, "refresh_token");
        expect(refreshes).toHaveLength(1);
        expect(refreshes[0]!.status).toBe(200);
        expect(new URLSearchParams(refreshes[0]!.body).get("refresh_token")).toBe(firstTokens.refresh_token);
        expect(new URLSearchParams(refreshes[0]!.body).get("client_id")).toBe(registered.client_id);

        expect(provider.savedTokens).toHaveLength(2);
        const refreshed = provider.savedTokens[1]!;
        expect(refreshed.access_token).not.toBe(firstTokens.access_token);
        expect(refreshed.refresh_token, "the refresh token rotated").toBeTruthy();
        expect(refreshed.refresh_token).not.toBe(firstTokens.refresh_token);

        // Same MCP session: no new initialize, the retried call carried the same session id and the new token.
        expect(transport.sessionId).toBe(sessionId);
        expect(mcpMethods(after, base)).not.toContain("initialize");
        const retried = after.filter((s) => s.url === `${base}/mcp` && s.method === "POST" && s.status === 200);
        expect(retried.length).toBeGreaterThan(0);
        for (const s of retried) {
          expect(s.headers.get("mcp-session-id")).toBe(sessionId);
          expect(s.headers.get("authorization")).toBe(`Bearer ${refreshed.access_token}`);
        }
        // No second registration and no second consent were needed.
        expect(at(log, base, "/oauth/register")).toHaveLength(1);
        expect(provider.visits).toHaveLength(1);
      } finally {
        await transport.terminateSession().catch(() => {});
        await client.close();
      }
    });

    // `pin` is strict 2026-07-28; `auto` probes with server/discover and would fall back to initialize: both must land on 2026-07-28.
    const modernModes = [
      ["pin 2026-07-28", { pin: "2026-07-28" }],
      ["auto", "auto"],
    ] as const;
    it.each(modernModes)("@modelcontextprotocol/client 2.x (2026-07-28, %s): Client ID Metadata Document instead of DCR, consent, whoami, automatic refresh", async (_label, mode) => {
      const clientMetadataUrl = `https://localhost:${fixture.port}/client.json`;
      const redirectUri = cimdRedirectUri(fixture.port);
      const provider = new ModernSdkProvider(jar, redirectUri, "SDK 2.x CIMD interop", clientMetadataUrl);
      const log: Seen[] = [];
      const mcpUrl = new URL(`${base}/mcp`);
      const client = new ModernClient({ name: "client-2x-cimd", version: "1.0.0" }, { versionNegotiation: { mode } });
      const first = new ModernTransport(mcpUrl, { authProvider: provider, fetch: recordingFetch(log) });
      await expectUnauthorized(client.connect(first), (e) => e instanceof ModernUnauthorizedError);

      expect(log[0]).toMatchObject({ method: "POST", url: `${base}/mcp`, status: 401 });
      expect(at(log, base, "/.well-known/oauth-protected-resource/mcp").map((s) => s.status)).toContain(200);
      expect(at(log, base, "/.well-known/oauth-authorization-server").map((s) => s.status)).toContain(200);
      expect(provider.client?.client_id).toBe(clientMetadataUrl);
      expect(provider.visits).toHaveLength(1);
      expectAuthorizationRequest(provider.visits[0]!.authorizationUrl, base, clientMetadataUrl, redirectUri);
      expectAuthorizationResponse(provider.visits[0]!, redirectUri, base);
      // Gatehouse fetched the document (to validate it and show consent; it may cache it), over TLS it was told to trust.
      expect(fixture.hits.get("/client.json") ?? 0).toBeGreaterThan(0);

      // finishAuth with the whole callback query: the SDK checks `iss` (RFC 9207) before redeeming the code.
      await first.finishAuth(provider.visits[0]!.callback.searchParams);
      expect(provider.savedTokens).toHaveLength(1);
      const firstTokens = provider.savedTokens[0]!;
      expect(firstTokens.refresh_token).toBeTruthy();
      const [exchange] = tokenGrants(log, base, "authorization_code");
      expect(exchange?.status).toBe(200);
      expect(new URLSearchParams(exchange!.body).get("client_id")).toBe(clientMetadataUrl);

      const transport = new ModernTransport(mcpUrl, { authProvider: provider, fetch: recordingFetch(log) });
      await client.connect(transport);
      try {
        const me = whoamiOf(await client.callTool({ name: "whoami", arguments: {} }));
        expect(me.user).toEqual({ id: alice.id, email: "alice@example.com" });
        expect(me.client).toMatchObject({ id: clientMetadataUrl, name: "SDK 2.x CIMD interop" });

        // It spoke 2026-07-28: server/discover, no initialize, no session, the modern headers on tools/call.
        const methods = mcpMethods(log, base);
        expect(methods).toContain("server/discover");
        expect(methods).not.toContain("initialize");
        const call = at(log, base, "/mcp").find((s) => s.status === 200 && s.body.includes('"tools/call"'));
        expect(call?.headers.get("mcp-protocol-version")).toBe("2026-07-28");
        expect(call?.headers.get("mcp-method")).toBe("tools/call");
        expect(call?.headers.get("mcp-name")).toBe("whoami");
        expect(call?.headers.has("mcp-session-id")).toBe(false);

        clock.advance(ACCESS_TOKEN_TTL_MS + 1);
        const before = log.length;
        const again = whoamiOf(await client.callTool({ name: "whoami", arguments: {} }));
        expect(again.user.email).toBe("alice@example.com");
        expect(again.client.id).toBe(clientMetadataUrl);

        const after = log.slice(before);
        const expired = after.find((s) => s.url === `${base}/mcp` && s.status === 401);
        expect(expired, "the expired access token was refused with 401").toBeDefined();
        const refreshes = tokenGrants(after, base, "refresh_token");
        expect(refreshes).toHaveLength(1);
        expect(refreshes[0]!.status).toBe(200);
        const refreshForm = new URLSearchParams(refreshes[0]!.body);
        expect(refreshForm.get("refresh_token")).toBe(firstTokens.refresh_token);
        expect(refreshForm.get("client_id")).toBe(clientMetadataUrl);
        expect(provider.savedTokens).toHaveLength(2);
        const refreshed = provider.savedTokens[1]!;
        expect(refreshed.access_token).not.toBe(firstTokens.access_token);
        expect(refreshed.refresh_token).toBeTruthy();
        expect(refreshed.refresh_token).not.toBe(firstTokens.refresh_token);
        const retried = after.filter((s) => s.url === `${base}/mcp` && s.status === 200);
        expect(retried.length).toBeGreaterThan(0);
        expect(retried.at(-1)!.headers.get("authorization")).toBe(`Bearer ${refreshed.access_token}`);

        // A metadata document, never DCR: the client did not call /oauth/register at any point.
        expect(at(log, base, "/oauth/register")).toEqual([]);
        expect(log.some((s) => s.url.endsWith("/oauth/register"))).toBe(false);
        expect(provider.savedClients.map((c) => c.client_id)).toEqual([clientMetadataUrl]);
        expect(provider.visits).toHaveLength(1);
      } finally {
        await client.close();
      }
    });

    it("@modelcontextprotocol/client 2.x in its default (legacy) mode registers by DCR and gets a 2025-11-25 session on the same URL", async () => {
      const redirectUri = "http://127.0.0.1:9102/callback";
      const provider = new ModernSdkProvider(jar, redirectUri, "SDK 2.x legacy interop");
      const log: Seen[] = [];
      const mcpUrl = new URL(`${base}/mcp`);
      const client = new ModernClient({ name: "client-2x-legacy", version: "1.0.0" });

      const first = new ModernTransport(mcpUrl, { authProvider: provider, fetch: recordingFetch(log) });
      await expectUnauthorized(client.connect(first), (e) => e instanceof ModernUnauthorizedError);
      const registrations = at(log, base, "/oauth/register");
      expect(registrations.map((s) => s.status)).toEqual([201]);
      const clientId = provider.client!.client_id;
      expect(clientId).not.toMatch(/^https:/);
      expect(provider.visits).toHaveLength(1);
      expectAuthorizationRequest(provider.visits[0]!.authorizationUrl, base, clientId, redirectUri);
      expectAuthorizationResponse(provider.visits[0]!, redirectUri, base);
      await first.finishAuth(provider.visits[0]!.callback.searchParams);

      const transport = new ModernTransport(mcpUrl, { authProvider: provider, fetch: recordingFetch(log) });
      await client.connect(transport);
      try {
        expect(transport.sessionId).toBeTruthy();
        expect(transport.protocolVersion).toBe("2025-11-25");
        expect(mcpMethods(log, base)).toContain("initialize");
        expect(mcpMethods(log, base)).not.toContain("server/discover");
        const me = whoamiOf(await client.callTool({ name: "whoami", arguments: {} }));
        expect(me.user.email).toBe("alice@example.com");
        expect(me.client).toMatchObject({ id: clientId, name: "SDK 2.x legacy interop" });
      } finally {
        await transport.terminateSession().catch(() => {});
        await client.close();
      }
    });
  });
}
