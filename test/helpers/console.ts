/**
 * The web console's tests share these: "the browser" is fetch with a
 * CookieJar, cross-site requests carry the headers a browser sends
 * (`Sec-Fetch-Site`, `Origin`), and pages are read as text.
 */
import { createHash } from "node:crypto";
import { request as httpRequest } from "node:http";
import { afterAll, beforeAll, expect } from "vitest";
import type { DriverName } from "./databases.js";
import {
  type ClientRegistration,
  connect,
  type CookieJar,
  readRaw,
  registerClient,
  signIn,
  visibleText,
  type RawResponse,
} from "./oauth.js";
import { startTestServer, type TestServer } from "./server.js";

export const PASSWORD = "correct horse battery staple";
export const SESSION_COOKIE = "gh_session";
export const sha256Hex = (value: string) => createHash("sha256").update(value).digest("hex");

/** What a browser adds to a request that another site made it send. */
export const CROSS_SITE: [string, Record<string, string>][] = [
  ["Sec-Fetch-Site: cross-site", { "sec-fetch-site": "cross-site" }],
  ["Sec-Fetch-Site: same-site (a sibling subdomain)", { "sec-fetch-site": "same-site" }],
  ["Origin: https://evil.example", { origin: "https://evil.example" }],
  ["Origin: null (sandboxed frame, data: URL)", { origin: "null" }],
];


export type Cookie = CookieJar | string | null;
export const cookieHeader = (cookie: Cookie): Record<string, string> => {
  const value = cookie === null ? "" : typeof cookie === "string" ? cookie : cookie.header();
  return value ? { cookie: value } : {};
};

export function get(base: string, path: string, cookie: Cookie, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${base}${path}`, { redirect: "manual", headers: { ...cookieHeader(cookie), ...headers } });
}

/** A form POST as a browser on this origin sends it (no Sec-Fetch-Site: a plain client), never following redirects. */
export function submit(base: string, path: string, cookie: Cookie, fields: Record<string, string>, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${base}${path}`, {
    method: "POST",
    redirect: "manual",
    headers: { "content-type": "application/x-www-form-urlencoded", ...cookieHeader(cookie), ...headers },
    body: new URLSearchParams(fields),
  });
}

export type Upload = { status: number; text: string; setCookies: string[] } | "closed";

/**
 * One POST on its own connection (node:http, no keep-alive pool): a server that
 * answers an oversized upload early and closes the socket cannot break the
 * next request of the test. "closed" when the connection was cut mid-upload.
 */
export function uploadOnce(url: string, headers: Record<string, string>, body: string): Promise<Upload> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(url, { method: "POST", agent: false, headers: { ...headers, "content-length": Buffer.byteLength(body) } }, (response) => {
      const chunks: Buffer[] = [];
      response.on("data", (chunk: Buffer) => chunks.push(chunk));
      response.on("end", () => resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8"), setCookies: response.headers["set-cookie"] ?? [] }));
      response.on("error", () => resolve("closed"));
    });
    request.on("error", (error) => (/ECONNRESET|EPIPE|socket hang up/i.test(String(error)) ? resolve("closed") : reject(error)));
    request.end(body);
  });
}

/** The value of one cookie in a jar. */
export function cookieValue(jar: CookieJar, name: string): string | undefined {
  for (const pair of jar.header().split("; ")) {
    const eq = pair.indexOf("=");
    if (pair.slice(0, eq) === name) return pair.slice(eq + 1);
  }
  return undefined;
}

/** The session cookie a response sets (deletions excluded). */
export function sessionSetCookie(response: Response): string | undefined {
  return response.headers
    .getSetCookie()
    .find((c) => c.startsWith(`${SESSION_COOKIE}=`) && !c.startsWith(`${SESSION_COOKIE}=;`) && !/max-age=0\b/i.test(c) && !/expires=thu, 01 jan 1970/i.test(c));
}

/** The page behind a path, read as the given browser. */
export async function pageAt(base: string, path: string, cookie: Cookie): Promise<{ status: number; html: string; headers: Headers }> {
  const response = await get(base, path, cookie);
  return { status: response.status, html: await response.text(), headers: response.headers };
}

/** Whether a cookie signs in: /user answers 200 (not the 303 to /login). */
export async function signedIn(base: string, cookie: Cookie): Promise<boolean> {
  const response = await get(base, "/user", cookie);
  await response.body?.cancel();
  if (response.status === 303) {
    expect(response.headers.get("location")).toBe("/login?return_to=%2Fuser");
    return false;
  }
  expect(response.status).toBe(200);
  return true;
}

export interface ApiOptions {
  method?: string;
  cookie?: Cookie;
  bearer?: string;
  csrf?: string;
  body?: unknown;
  rawBody?: string;
  headers?: Record<string, string>;
}

export async function api(base: string, path: string, options: ApiOptions = {}): Promise<RawResponse> {
  const body = options.rawBody ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
  const response = await fetch(`${base}/api${path}`, {
    method: options.method ?? "GET",
    redirect: "manual",
    headers: {
      ...cookieHeader(options.cookie ?? null),
      ...(options.bearer !== undefined ? { authorization: `Bearer ${options.bearer}` } : {}),
      ...(options.csrf !== undefined ? { "x-csrf-token": options.csrf } : {}),
      ...(body !== undefined ? { "content-type": "application/json" } : {}),
      ...options.headers,
    },
    ...(body !== undefined ? { body } : {}),
  });
  return readRaw(response);
}

/** A console API error: exact status and stable code, JSON `{error, error_description}`, not cached. */
export function expectApiError(response: RawResponse, status: number, code: string): void {
  expect(response.status, response.text).toBe(status);
  expect(response.headers.get("content-type") ?? "", response.text).toMatch(/^application\/json\b/i);
  expect(response.json, response.text).not.toBeNull();
  expect(response.json!.error, response.text).toBe(code);
  expect(response.json!.error).toMatch(/^[a-z][a-z_]*$/);
  expect(typeof response.json!.error_description, response.text).toBe("string");
  expect(response.text).not.toMatch(/\bat \S+\.(?:ts|js):\d+/); // no stack trace
  expect(response.headers.get("cache-control") ?? "").toMatch(/\bno-store\b/i);
}

export interface Credential {
  id: string;
  kind: "api_key" | "mcp";
  name: string;
  client: { id: string; name: string | null } | null;
  scopes: string[];
  createdAt: string;
  lastUsedAt: string | null;
  expiresAt: string | null;
}

/** The `<tr>` of /user that deletes credential `id`, or null. */
export function rowOf(html: string, id: string): string | null {
  for (const match of html.matchAll(/<tr\b[^>]*data-kind="[^"]*"[^>]*>[\s\S]*?<\/tr>/g)) {
    if (match[0].includes(`action="/user/tokens/${id}/delete"`)) return match[0];
  }
  return null;
}

export function expectPageHeaders(headers: Headers, label: string): void {
  const csp = headers.get("content-security-policy") ?? "";
  expect(csp, label).toMatch(/frame-ancestors 'none'/);
  expect(csp, label).not.toMatch(/script-src[^;]*'unsafe-inline'/);
  expect(headers.get("x-frame-options"), label).toBe("DENY");
  expect(headers.get("referrer-policy"), label).toBe("no-referrer");
  expect(headers.get("cache-control") ?? "", label).toMatch(/\bno-store\b/);
}

/** How the consent page words the `mcp` scope; /user labels a connection's scopes with the same words. */
export const MCP_SCOPE_WORDS = "Use this server's tools, resources and prompts that need no other permission, as you (mcp)";

/** Text as read within one line of a page: inline tags (`<strong>`, `<code>`) add no space. */
export function plainText(html: string): string {
  return visibleText(html.replace(/<[^>]*>/g, ""));
}

/** The one-time confirmations on /user ("Disconnected …", "Deleted key …"), as read. */
export function confirmations(html: string): string[] {
  return [...html.matchAll(/<p class="done" role="status">([\s\S]*?)<\/p>/g)].map((m) => plainText(m[1]!));
}

/** The new API key a /user page shows, if any. */
export function newKeyOn(html: string): string | undefined {
  return /id="new-key"[^>]*value="(ghk_[^"]+)"/.exec(html)?.[1] ?? /value="(ghk_[^"]+)"[^>]*id="new-key"/.exec(html)?.[1];
}

/** Invisible characters a key name may not hold: bidirectional controls, C0 and C1 controls. */
export const FORBIDDEN_NAME_CHARACTERS: [string, string][] = [
  ...["202A", "202B", "202C", "202D", "202E", "2066", "2067", "2068", "2069", "200E", "200F", "061C"].map(
    (hex): [string, string] => [`U+${hex}`, String.fromCodePoint(parseInt(hex, 16))],
  ),
  ...["0000", "0007", "0009", "000A", "000D", "001B", "007F", "0085", "009B"].map(
    (hex): [string, string] => [`U+${hex}`, String.fromCodePoint(parseInt(hex, 16))],
  ),
];

/* --------------------------------------------------------------- tests */

/* ------------------------------------------------------------- fixture */

/**
 * The console suites' shared world: a server (and, on PostgreSQL, a second
 * node on the same database and public URL, which revocations must reach)
 * with Alice and Bob signed in. Fields are set in beforeAll.
 */
export interface ConsoleFixture {
  server: TestServer;
  other: TestServer | null;
  /** Where the second node listens (its public URL is the first node's). */
  otherUrl: string;
  base: string;
  alice: { id: string; email: string };
  bob: { id: string; email: string };
  aliceJar: CookieJar;
  bobJar: CookieJar;
  connectAs(jar: CookieJar, name?: string): Promise<{ client: ClientRegistration; access: string; refresh: string }>;
  credentials(cookie: Cookie): Promise<Credential[]>;
  connectionOf(jar: CookieJar, clientId: string): Promise<Credential | undefined>;
  csrfOf(cookie: Cookie): Promise<string>;
  newKey(jar: CookieJar, name: string): Promise<Credential & { token: string }>;
}

/** Registers the hooks that build and tear down a ConsoleFixture for the enclosing describe. */
export function useConsoleFixture(driver: DriverName): ConsoleFixture {
  let clients = 0;
  const f = { other: null, otherUrl: "" } as ConsoleFixture;
  f.connectAs = async (jar, name = `Console client ${++clients}`) => {
    const client = await registerClient(f.base, { client_name: name });
    const { tokens } = await connect(f.base, jar, client);
    return { client, access: tokens.access_token, refresh: tokens.refresh_token };
  };
  f.credentials = async (cookie) => {
    const response = await api(f.base, "/tokens", { cookie });
    expect(response.status, response.text).toBe(200);
    return (response.json as { tokens: Credential[] }).tokens;
  };
  f.connectionOf = async (jar, clientId) => (await f.credentials(jar)).find((c) => c.kind === "mcp" && c.client?.id === clientId);
  f.csrfOf = async (cookie) => {
    const me = await api(f.base, "/me", { cookie });
    expect(me.status, me.text).toBe(200);
    return me.json!.csrf_token as string;
  };
  f.newKey = async (jar, name) => {
    const created = await api(f.base, "/tokens", { method: "POST", cookie: jar, csrf: await f.csrfOf(jar), body: { name } });
    expect(created.status, created.text).toBe(201);
    return created.json as unknown as Credential & { token: string };
  };
  beforeAll(async () => {
    f.server = await startTestServer(driver);
    f.base = f.server.base;
    if (driver === "postgres") {
      f.other = await startTestServer(driver, { testDb: f.server.testDb, config: { publicUrl: f.base } });
      f.otherUrl = f.other.running.url;
    }
    f.alice = await f.server.addUser("alice@example.com", PASSWORD);
    f.bob = await f.server.addUser("bob@example.com", PASSWORD);
    f.aliceJar = await signIn(f.base, "alice@example.com", PASSWORD);
    f.bobJar = await signIn(f.base, "bob@example.com", PASSWORD);
  });
  afterAll(async () => {
    await f.other?.close();
    await f.server?.close();
  });
  return f;
}
