/** Drives the OAuth flow over HTTP the way a browser and a client would. */
import { createHash, randomBytes } from "node:crypto";

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
