/**
 * A real access token for the bench, the way a client gets one: an account,
 * a browser sign-in, DCR, consent over HTTP and the code exchange (PKCE).
 * A trimmed copy of test/helpers/oauth.ts, which imports vitest.
 */
import { createHash, randomBytes } from "node:crypto";
import { createUser } from "../src/accounts/users.js";
import type { Db } from "../src/storage/db.js";

class Jar {
  private readonly cookies = new Map<string, string>();
  absorb(response: Response): void {
    for (const line of response.headers.getSetCookie()) {
      const pair = line.split(";")[0]!;
      const eq = pair.indexOf("=");
      this.cookies.set(pair.slice(0, eq).trim(), pair.slice(eq + 1).trim());
    }
  }
  header(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; ");
  }
}

function hiddenFields(html: string, action: string): Record<string, string> {
  const start = html.indexOf(`action="${action}"`);
  if (start < 0) throw new Error(`no form posting to ${action}`);
  const form = html.slice(start, html.indexOf("</form>", start));
  const fields: Record<string, string> = {};
  for (const m of form.matchAll(/<input[^>]*type="hidden"[^>]*name="([^"]+)"[^>]*value="([^"]*)"/g)) {
    fields[m[1]!] = m[2]!.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
  }
  return fields;
}

async function postForm(url: string, jar: Jar, fields: Record<string, string>): Promise<Response> {
  const response = await fetch(url, {
    method: "POST",
    redirect: "manual",
    headers: { "content-type": "application/x-www-form-urlencoded", cookie: jar.header() },
    body: new URLSearchParams(fields),
  });
  jar.absorb(response);
  if (response.status !== 303) throw new Error(`${url}: ${response.status} ${await response.text()}`);
  return response;
}

/** A new user signed in, a new public client, consent, and the code exchanged: the access token. */
export async function accessToken(base: string, db: Db, email = `bench-${randomBytes(4).toString("hex")}@example.com`): Promise<string> {
  const password = "bench password, long enough";
  await createUser(db, { email, password });
  const jar = new Jar();
  const login = await fetch(`${base}/login`);
  jar.absorb(login);
  await postForm(`${base}/login`, jar, { ...hiddenFields(await login.text(), "/login"), email, password });

  const registered = await fetch(`${base}/oauth/register`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ client_name: `bench ${email}`, redirect_uris: ["http://127.0.0.1:9999/callback"], token_endpoint_auth_method: "none" }),
  });
  if (registered.status !== 201) throw new Error(`registration: ${registered.status} ${await registered.text()}`);
  const client = (await registered.json()) as { client_id: string };

  const verifier = randomBytes(32).toString("base64url");
  const params = {
    response_type: "code",
    client_id: client.client_id,
    redirect_uri: "http://127.0.0.1:9999/callback",
    code_challenge: createHash("sha256").update(verifier).digest("base64url"),
    code_challenge_method: "S256",
    state: "bench",
    resource: `${base}/mcp`,
  };
  const page = await fetch(`${base}/oauth/authorize?${new URLSearchParams(params)}`, { headers: { cookie: jar.header() }, redirect: "manual" });
  if (page.status !== 200) throw new Error(`authorize: ${page.status}`);
  const decision = await postForm(`${base}/oauth/authorize`, jar, { ...hiddenFields(await page.text(), "/oauth/authorize"), decision: "approve" });
  const code = new URL(decision.headers.get("location")!).searchParams.get("code");
  if (!code) throw new Error(`no code: ${decision.headers.get("location")}`);

  const token = await fetch(`${base}/oauth/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "authorization_code",
      code,
      code_verifier: verifier,
      client_id: client.client_id,
      redirect_uri: params.redirect_uri,
      resource: params.resource,
    }),
  });
  const body = (await token.json()) as { access_token?: string };
  if (token.status !== 200 || !body.access_token) throw new Error(`token: ${token.status} ${JSON.stringify(body)}`);
  return body.access_token;
}
