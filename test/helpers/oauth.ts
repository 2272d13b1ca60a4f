/** Drives the OAuth flow over HTTP the way a browser and a client would. */
import { createHash, randomBytes } from "node:crypto";
import { request as httpRequest } from "node:http";
import { expect } from "vitest";

export class CookieJar {
  private readonly cookies = new Map<string, string>();
  absorb(response: Response): void {
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...attributes] = line.split(";");
      const eq = pair!.indexOf("=");
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      const expired = attributes.some((a) => /max-age=0/i.test(a) || /expires=Thu, 01 Jan 1970/i.test(a));
      if (expired || value === "") this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }
  header(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; ");
  }
  has(name: string): boolean {
    return this.cookies.has(name);
  }
}

export function pkce() {
  const verifier = randomBytes(32).toString("base64url");
  const challenge = createHash("sha256").update(verifier).digest("base64url");
  return { verifier, challenge };
}

/** Hidden inputs of the first form whose action matches. */
export function formFields(html: string, action: string): Record<string, string> {
  const start = html.indexOf(`action="${action}"`);
  if (start < 0) throw new Error(`no form posting to ${action}`);
  const end = html.indexOf("</form>", start);
  const form = html.slice(start, end);
  const fields: Record<string, string> = {};
  for (const match of form.matchAll(/<input[^>]*type="hidden"[^>]*name="([^"]+)"[^>]*value="([^"]*)"/g)) {
    fields[match[1]!] = match[2]!.replace(/&amp;/g, "&").replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, "<").replace(/&gt;/g, ">");
  }
  return fields;
}

export async function signIn(base: string, email: string, password: string, jar = new CookieJar()): Promise<CookieJar> {
  const page = await fetch(`${base}/login`, { headers: { cookie: jar.header() } });
  jar.absorb(page);
  const fields = formFields(await page.text(), "/login");
  const response = await fetch(`${base}/login`, {
    method: "POST",
    redirect: "manual",
    headers: { "content-type": "application/x-www-form-urlencoded", cookie: jar.header() },
    body: new URLSearchParams({ ...fields, email, password }),
  });
  jar.absorb(response);
  if (response.status !== 303) throw new Error(`sign-in failed: ${response.status}`);
  return jar;
}

export interface ClientRegistration {
  client_id: string;
  client_secret?: string;
  redirect_uris: string[];
  [key: string]: unknown;
}

export async function registerClient(base: string, metadata: Record<string, unknown> = {}): Promise<ClientRegistration> {
  const response = await fetch(`${base}/oauth/register`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      client_name: "Test Client",
      redirect_uris: ["http://127.0.0.1:9999/callback"],
      token_endpoint_auth_method: "none",
      ...metadata,
    }),
  });
  if (response.status !== 201) throw new Error(`registration failed: ${response.status} ${await response.text()}`);
  return (await response.json()) as ClientRegistration;
}

export interface AuthorizeResult {
  /** Where the browser was sent after the decision (or after a redirect error). */
  location: URL;
  code: string | null;
}

/** GET /oauth/authorize as the signed-in browser, then answer the consent form. */
export async function authorize(
  base: string,
  jar: CookieJar,
  params: Record<string, string>,
  decision: "approve" | "deny" = "approve",
): Promise<AuthorizeResult> {
  const url = `${base}/oauth/authorize?${new URLSearchParams(params)}`;
  const page = await fetch(url, { headers: { cookie: jar.header() }, redirect: "manual" });
  if (page.status === 303 || page.status === 302) {
    const location = new URL(page.headers.get("location")!, base);
    return { location, code: location.searchParams.get("code") };
  }
  if (page.status !== 200) throw new Error(`authorize page: ${page.status} ${await page.text()}`);
  const fields = formFields(await page.text(), "/oauth/authorize");
  const response = await fetch(`${base}/oauth/authorize`, {
    method: "POST",
    redirect: "manual",
    headers: { "content-type": "application/x-www-form-urlencoded", cookie: jar.header() },
    body: new URLSearchParams({ ...fields, decision }),
  });
  if (response.status !== 303) throw new Error(`decision: ${response.status} ${await response.text()}`);
  const location = new URL(response.headers.get("location")!);
  return { location, code: location.searchParams.get("code") };
}

export async function tokenRequest(base: string, params: Record<string, string>, headers: Record<string, string> = {}) {
  const response = await fetch(`${base}/oauth/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
    body: new URLSearchParams(params),
  });
  return { status: response.status, headers: response.headers, body: (await response.json()) as Record<string, string> };
}

/** Registration, sign-in, consent and code exchange: a connected client with its first token pair. */
export async function connect(base: string, jar: CookieJar, client?: ClientRegistration) {
  const registered = client ?? (await registerClient(base));
  const { verifier, challenge } = pkce();
  const redirectUri = registered.redirect_uris[0]!;
  const { code } = await authorize(base, jar, {
    response_type: "code",
    client_id: registered.client_id,
    redirect_uri: redirectUri,
    code_challenge: challenge,
    code_challenge_method: "S256",
    state: "st",
    resource: `${base}/mcp`,
  });
  if (!code) throw new Error("no code");
  const tokens = await tokenRequest(base, {
    grant_type: "authorization_code",
    code,
    code_verifier: verifier,
    client_id: registered.client_id,
    redirect_uri: redirectUri,
    resource: `${base}/mcp`,
  });
  if (tokens.status !== 200) throw new Error(`token: ${tokens.status} ${JSON.stringify(tokens.body)}`);
  return { client: registered, tokens: tokens.body as Record<string, string> & { access_token: string; refresh_token: string } };
}

/**
 * Answers consent for a complete authorization URL (as a third-party client
 * library or the conformance suite builds it): GET it as the signed-in
 * browser, post the decision, and return the 303 Location without following it.
 */
export async function consentAt(authorizationUrl: string | URL, jar: CookieJar, decision: "approve" | "deny" = "approve"): Promise<URL> {
  const url = new URL(authorizationUrl);
  const page = await fetch(url, { headers: { cookie: jar.header() }, redirect: "manual" });
  if (page.status !== 200) {
    throw new Error(`authorize page: ${page.status} ${page.headers.get("location") ?? ""} ${await page.text()}`.trim());
  }
  const fields = formFields(await page.text(), "/oauth/authorize");
  const response = await fetch(new URL("/oauth/authorize", url), {
    method: "POST",
    redirect: "manual",
    headers: { "content-type": "application/x-www-form-urlencoded", cookie: jar.header() },
    body: new URLSearchParams({ ...fields, decision }),
  });
  if (response.status !== 303) throw new Error(`decision: ${response.status} ${await response.text()}`);
  return new URL(response.headers.get("location")!);
}

/** The /oauth/authorize URL; pairs allow a parameter to repeat (`[["state","a"],["state","b"]]`). */
export function authorizeUrl(base: string, params: Record<string, string> | [string, string][]): string {
  return `${base}/oauth/authorize?${new URLSearchParams(params)}`;
}

/** GET /oauth/authorize without following redirects, as a browser with `jar` (or signed out with null). */
export function openAuthorize(
  base: string,
  jar: CookieJar | null,
  params: Record<string, string> | [string, string][],
  headers: Record<string, string> = {},
): Promise<Response> {
  return fetch(authorizeUrl(base, params), {
    redirect: "manual",
    headers: { ...(jar ? { cookie: jar.header() } : {}), ...headers },
  });
}

/** POST the consent form (`request_id`, `csrf_token`, `decision`, plus anything else) without following redirects. */
export function postDecision(
  base: string,
  jar: CookieJar | null,
  fields: Record<string, string>,
  headers: Record<string, string> = {},
): Promise<Response> {
  return fetch(`${base}/oauth/authorize`, {
    method: "POST",
    redirect: "manual",
    headers: { "content-type": "application/x-www-form-urlencoded", ...(jar ? { cookie: jar.header() } : {}), ...headers },
    body: new URLSearchParams(fields),
  });
}

/** POST /oauth/register with any body and content type; the raw response. */
export function postRegistration(base: string, body: unknown, contentType = "application/json"): Promise<Response> {
  return fetch(`${base}/oauth/register`, {
    method: "POST",
    headers: { "content-type": contentType },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

/** The text a person sees: tags (and so attribute values such as hidden inputs) removed, entities decoded. */
export function visibleText(html: string): string {
  return html
    .replace(/<(script|style)\b[\s\S]*?<\/\1>/gi, " ")
    .replace(/<[^>]*>/g, " ")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, "&")
    .replace(/\s+/g, " ")
    .trim();
}

/* Token-side helpers: token, refresh, revocation, introspection and bearer suites. */

/** A response read once: status, headers, the body text, and the body as JSON when it parses. */
export interface RawResponse {
  status: number;
  headers: Headers;
  text: string;
  json: Record<string, unknown> | null;
}

export async function readRaw(response: Response): Promise<RawResponse> {
  const text = await response.text();
  let json: Record<string, unknown> | null = null;
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed !== null && typeof parsed === "object" && !Array.isArray(parsed)) json = parsed as Record<string, unknown>;
  } catch {
    json = null;
  }
  return { status: response.status, headers: response.headers, text, json };
}

/** POST an `application/x-www-form-urlencoded` body (pairs allow a parameter to repeat); never throws on odd bodies. */
export async function postForm(
  url: string,
  form: Record<string, string> | [string, string][] | string,
  headers: Record<string, string> = {},
): Promise<RawResponse> {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
    body: typeof form === "string" ? form : new URLSearchParams(form).toString(),
  });
  return readRaw(response);
}

/** HTTP Basic client credentials; each half is form-urlencoded before base64 (RFC 6749 §2.3.1). */
export function basicAuth(clientId: string, secret: string): string {
  const encode = (s: string) => encodeURIComponent(s).replace(/%20/g, "+");
  return `Basic ${Buffer.from(`${encode(clientId)}:${encode(secret)}`).toString("base64")}`;
}

export interface IssuedCode {
  code: string;
  verifier: string;
  redirectUri: string;
}

/** Consent up to the authorization code, without redeeming it; `extra` adds or overrides request parameters. */
export async function authorizeForCode(
  base: string,
  jar: CookieJar,
  client: ClientRegistration,
  extra: Record<string, string> = {},
): Promise<IssuedCode> {
  const { verifier, challenge } = pkce();
  const redirectUri = extra.redirect_uri ?? client.redirect_uris[0]!;
  const { code, location } = await authorize(base, jar, {
    response_type: "code",
    client_id: client.client_id,
    redirect_uri: redirectUri,
    code_challenge: challenge,
    code_challenge_method: "S256",
    state: "st",
    resource: `${base}/mcp`,
    ...extra,
  });
  if (!code) throw new Error(`no code: ${location.href}`);
  return { code, verifier, redirectUri };
}

/** The status /mcp gives a bearer token: 401 means the bearer check refused it; anything else means it passed. */
export async function mcpBearerStatus(base: string, token: string, headers: Record<string, string> = {}): Promise<number> {
  const response = await fetch(`${base}/mcp`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${token}`,
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      ...headers,
    },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "ping" }),
  });
  await response.body?.cancel();
  return response.status;
}

/**
 * The /mcp status of a token that was just revoked: polls until 401 or until
 * `withinMs` has passed (PRODUCT §6: a deleted connection's tokens get 401 on
 * every node within 1 second).
 */
export async function mcpStatusAfterRevocation(base: string, token: string, withinMs = 1000): Promise<number> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    const status = await mcpBearerStatus(base, token);
    if (status === 401 || Date.now() >= deadline) return status;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The refresh_token grant as a public client (`client_id` in the body). */
export function refreshGrant(
  base: string,
  clientId: string,
  refreshToken: string,
  extra: Record<string, string> = {},
  headers: Record<string, string> = {},
): Promise<RawResponse> {
  return postForm(`${base}/oauth/token`, { grant_type: "refresh_token", refresh_token: refreshToken, client_id: clientId, ...extra }, headers);
}

/** An RFC 6749 §5.2 error: exact status and code, JSON `{error, error_description}`, `Cache-Control: no-store` (PRODUCT §5). */
export function expectOAuthError(response: RawResponse, status: number | number[], error: string | string[]): void {
  const statuses = Array.isArray(status) ? status : [status];
  const errors = Array.isArray(error) ? error : [error];
  expect(statuses, `status ${response.status}: ${response.text}`).toContain(response.status);
  expect(response.headers.get("content-type") ?? "").toMatch(/^application\/json\b/i);
  expect(response.json, response.text).not.toBeNull();
  expect(errors, response.text).toContain(response.json!.error);
  expect(typeof response.json!.error_description, response.text).toBe("string");
  expect(response.headers.get("cache-control") ?? "").toMatch(/\bno-store\b/i);
}

/**
 * A refresh token that no longer works: `invalid_grant`, or `invalid_client`
 * when the connection was the client's last and the registration went with it
 * (PRODUCT §6; THREATS 29 allows either).
 */
export function expectRefreshRefused(response: RawResponse): void {
  if (response.status === 401) expectOAuthError(response, 401, "invalid_client");
  else expectOAuthError(response, 400, "invalid_grant");
}

import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface HttpsFixture {
  port: number;
  /** The self-signed certificate (CN/SAN localhost, 127.0.0.1, ::1): pass it as `appDeps.cimd.ca`. */
  cert: string;
  /** Requests seen, by path, and TLS connections accepted (to prove "no fetch happened"). */
  hits: Map<string, number>;
  connections(): number;
  close(): Promise<void>;
}

/**
 * An HTTPS server on both loopback addresses with one port (as "localhost" may resolve to
 * either), for Client ID Metadata Documents. Needs `openssl` on the PATH.
 */
export async function startHttpsFixture(
  handler: (req: IncomingMessage, res: ServerResponse, port: number) => void,
): Promise<HttpsFixture> {
  const dir = mkdtempSync(join(tmpdir(), "gatehouse-fixture-"));
  execFileSync("openssl", [
    "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=localhost",
    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1", "-days", "1",
    "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem"),
  ], { stdio: "ignore" });
  const cert = readFileSync(join(dir, "cert.pem"), "utf8");
  const key = readFileSync(join(dir, "key.pem"));
  rmSync(dir, { recursive: true, force: true });
  const hits = new Map<string, number>();
  const servers: https.Server[] = [];
  let port = 0;
  let connections = 0;
  for (const host of ["127.0.0.1", "::1"]) {
    const server = https.createServer({ key, cert }, (req, res) => {
      hits.set(req.url ?? "/", (hits.get(req.url ?? "/") ?? 0) + 1);
      handler(req, res, port);
    });
    server.on("connection", () => connections++);
    const listening = await new Promise<boolean>((resolve) => {
      server.once("error", () => resolve(false));
      server.listen(port, host, () => resolve(true));
    });
    if (!listening) continue; // no IPv6 loopback here
    port = (server.address() as AddressInfo).port;
    servers.push(server);
  }
  if (servers.length === 0) throw new Error("the HTTPS fixture could not listen on loopback");
  return {
    port,
    cert,
    hits,
    connections: () => connections,
    async close() {
      for (const server of servers) {
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
      }
    },
  };
}

/**
 * `mcpBearerStatus` against another node of the same deployment: the request
 * goes to `nodeUrl` but carries the public Host, as a load balancer would pass
 * it (fetch cannot set Host, hence node:http).
 */
export function mcpBearerStatusOnNode(nodeUrl: string, publicBase: string, token: string): Promise<number> {
  const body = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "ping" });
  return new Promise((resolve, reject) => {
    const request = httpRequest(
      `${nodeUrl}/mcp`,
      {
        method: "POST",
        headers: {
          host: new URL(publicBase).host,
          authorization: `Bearer ${token}`,
          "content-type": "application/json",
          accept: "application/json, text/event-stream",
          "content-length": Buffer.byteLength(body),
        },
      },
      (response) => {
        resolve(response.statusCode ?? 0);
        response.destroy();
      },
    );
    request.on("error", reject);
    request.end(body);
  });
}

/** `mcpStatusAfterRevocation` on another node: polls until 401 or `withinMs` has passed. */
export async function mcpStatusAfterRevocationOnNode(nodeUrl: string, publicBase: string, token: string, withinMs = 1000): Promise<number> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    const status = await mcpBearerStatusOnNode(nodeUrl, publicBase, token);
    if (status === 401 || Date.now() >= deadline) return status;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** An authorization error shown as a page (never a redirect), framing refused (SPEC AZ-2, AZ-16); its HTML. */
export async function expectErrorPage(response: Response, status = 400): Promise<string> {
  const body = await response.text();
  expect(response.status, body.slice(0, 300)).toBe(status);
  expect(response.headers.get("location")).toBeNull();
  expect(response.headers.get("content-type")).toMatch(/^text\/html/);
  expect(response.headers.get("content-security-policy")).toContain("frame-ancestors 'none'");
  expect(response.headers.get("x-frame-options")).toBe("DENY");
  return body;
}
