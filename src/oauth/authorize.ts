/**
 * The authorization endpoint, validated in two phases (OAuth 2.1 §4.1.2.1):
 * until the client and redirect URI are verified, every error is a page and
 * never a redirect; after, errors go back to that verified URI with `state`
 * and `iss`. The pending request is stored server-side: the consent form
 * posts back only its id, so nothing the browser sends can change where the
 * code goes (THREATS 3).
 */
import { randomUUID } from "node:crypto";
import type { Context } from "hono";
import { Hono } from "hono";
import { clientIp } from "../web/client-ip.js";
import { isStorableText } from "../web/text.js";
import { ClientLookupThrottled } from "./cimd-gate.js";
import type { ClientStore, OAuthClient } from "./clients.js";
import type { AuthorizationCodes } from "./codes.js";
import { OAuthError } from "./errors.js";
import { isValidChallenge } from "./pkce.js";
import { checkResource, grantableScopes, parseScope, type OAuthPolicy } from "./policy.js";
import type { PendingAuthorization, PendingAuthorizations } from "./pending.js";
import { checkRedirectUri, matchRedirectUri } from "./redirect-uri.js";

export type { PendingAuthorization } from "./pending.js";

/** The signed-in person, as the authorize endpoint needs to know them. */
export interface AuthorizeUser {
  userId: string;
  email: string;
}

/**
 * What the authorize endpoint needs from the pages people see — the
 * console implements it (console/consent-ui.ts): the endpoint decides, the
 * console renders and knows who is signed in.
 */
export interface AuthorizeUi {
  /** Who is signed in (the console's session). */
  currentUser(c: Context): AuthorizeUser | null;
  /** Where to send someone who must sign in first; `returnTo` is a same-origin path. */
  signInUrl(returnTo: string): string;
  /** Renders the consent page; the console owns it. */
  renderConsent(c: Context, pending: PendingAuthorization, user: AuthorizeUser): Response | Promise<Response>;
  /** Renders an error that must not be redirected. */
  renderError(c: Context, title: string, message: string, status?: 400 | 403 | 414 | 429 | 503): Response | Promise<Response>;
  /**
   * Renders an error for a request whose redirect URI is registered but not
   * trusted to receive it automatically: the person reads what went wrong and
   * may follow `returnUrl` (the error response) back to the application.
   */
  renderErrorNotice(c: Context, notice: AuthorizeErrorNotice): Response | Promise<Response>;
  /** Checks the consent form's CSRF token and same-origin headers for this request id. */
  checkDecisionRequest(c: Context, requestId: string, token: string | undefined): boolean;
}

/** What the page for an error that is not sent back automatically shows. */
export interface AuthorizeErrorNotice {
  clientName: string;
  description: string;
  /** The error response at the client's redirect URI. */
  returnUrl: string;
  /** The redirect URI's host, so the person knows where the link goes. */
  returnHost: string;
}

export interface AuthorizeDeps {
  policy: OAuthPolicy;
  clients: ClientStore;
  codes: AuthorizationCodes;
  pending: PendingAuthorizations;
  ui: AuthorizeUi;
  /** Honour X-Forwarded-For for the address metadata-document fetches are counted against. */
  trustProxy: boolean;
  /** `always`: every error after verification goes back by redirect; `trusted`: see `trustedForErrors`. */
  errorRedirects: "always" | "trusted";
}

/** An error before the redirect URI is verified: shown as a page, never redirected (THREATS 1, 2). */
class AuthorizePageError extends Error {
  constructor(
    readonly title: string,
    message: string,
    readonly status: 400 | 414 | 429 | 503 = 400,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** An error after verification: travels back to the verified redirect URI. */
class AuthorizeRedirectError extends Error {
  constructor(
    readonly oauth: OAuthError,
    readonly redirectUri: string,
    readonly state: string | undefined,
    readonly client?: OAuthClient,
  ) {
    super(oauth.message);
  }
}

/** RFC 9207: every authorization response, success or error, carries `iss`. */
export function authorizationResponseUrl(redirectUri: string, params: Record<string, string | undefined>, issuer: string): string {
  const url = new URL(redirectUri);
  for (const [name, value] of Object.entries(params)) if (value !== undefined) url.searchParams.set(name, value);
  url.searchParams.set("iss", issuer);
  return url.toString();
}

const SINGLE = ["client_id", "redirect_uri", "response_type", "state", "scope", "code_challenge", "code_challenge_method", "resource"];

/**
 * The longest authorization request we carry through sign-in or echo back:
 * its parameters travel in a Location header (to sign-in, and `state` back to
 * the client), and a header past ~16 KB is refused by clients and proxies.
 * Real requests are a few hundred bytes; a CIMD client_id and redirect URI
 * are at most 2,000 each.
 */
export const MAX_AUTHORIZE_REQUEST = 6 * 1024;

/**
 * The request as it continues after sign-in: only the parameters this
 * endpoint reads (OAuth 2.1 §3.1: unrecognized ones are ignored), repeats
 * kept so they are still refused afterwards.
 */
function signInReturnPath(url: URL): string {
  const kept = new URLSearchParams();
  for (const [name, value] of url.searchParams) if (SINGLE.includes(name)) kept.append(name, value);
  return `/oauth/authorize?${kept.toString()}`;
}

function readParams(c: Context): Map<string, string> {
  const url = new URL(c.req.url);
  const params = new Map<string, string>();
  const repeated = new Set<string>();
  for (const [name, value] of url.searchParams) {
    // NUL and lone surrogates cannot be stored or echoed safely: treat the parameter as malformed.
    if (!isStorableText(name) || !isStorableText(value)) {
      params.set(`__invalid:${name}`, "1");
      continue;
    }
    if (params.has(name)) repeated.add(name);
    // OAuth 2.1 §3.1: a parameter sent without a value is treated as omitted.
    if (value !== "") params.set(name, value);
  }
  for (const name of repeated) if (SINGLE.includes(name)) params.set(`__repeated:${name}`, "1");
  return params;
}

async function verifyClient(deps: AuthorizeDeps, params: Map<string, string>, ip: string): Promise<{ client: OAuthClient; redirectUri: string }> {
  if (["client_id", "redirect_uri"].some((n) => params.has(`__repeated:${n}`) || params.has(`__invalid:${n}`))) {
    throw new AuthorizePageError("Invalid request", "The client_id or redirect_uri parameter is repeated.");
  }
  const clientId = params.get("client_id");
  if (!clientId) throw new AuthorizePageError("Invalid request", "The request has no client_id.");
  let client: OAuthClient | null;
  try {
    client = await deps.clients.resolve(clientId, { ip });
  } catch (error) {
    if (error instanceof ClientLookupThrottled) throw new AuthorizePageError("Try again later", error.description, error.status as 429 | 503, error.headers);
    if (error instanceof OAuthError) throw new AuthorizePageError("Unknown application", error.description);
    throw error;
  }
  if (!client) throw new AuthorizePageError("Unknown application", "This application is not registered with this server.");
  const presented = params.get("redirect_uri");
  if (presented === undefined) {
    // OAuth 2.1 §2.3.2: optional only when exactly one redirect URI is registered.
    if (client.redirectUris.length === 1) return { client, redirectUri: client.redirectUris[0]! };
    throw new AuthorizePageError("Invalid request", "The request has no redirect_uri.");
  }
  // RFC 9700 §4.1.3: exact match, loopback port excepted (RFC 8252 §7.3).
  if (!matchRedirectUri(client.redirectUris, presented)) {
    throw new AuthorizePageError("Invalid redirect", "The redirect_uri is not registered for this application.");
  }
  return { client, redirectUri: presented };
}

function validateRequest(deps: AuthorizeDeps, params: Map<string, string>) {
  const repeated = [...params.keys()].find((k) => k.startsWith("__repeated:"));
  if (repeated) throw new OAuthError("invalid_request", `The ${repeated.slice(11)} parameter is repeated.`);
  if ([...params.keys()].some((k) => k.startsWith("__invalid:"))) {
    throw new OAuthError("invalid_request", "A parameter contains characters that are not allowed.");
  }
  const responseType = params.get("response_type");
  if (responseType !== "code") {
    throw new OAuthError("unsupported_response_type", "Only response_type=code is supported.");
  }
  const challenge = params.get("code_challenge");
  // OAuth 2.1 §4.1.1: PKCE is required; only S256 (an absent method would mean plain).
  if (!challenge) throw new OAuthError("invalid_request", "code_challenge is required (PKCE with S256).");
  if (params.get("code_challenge_method") !== "S256") {
    throw new OAuthError("invalid_request", "code_challenge_method must be S256.");
  }
  if (!isValidChallenge(challenge)) throw new OAuthError("invalid_request", "code_challenge is malformed.");
  const resource = checkResource(deps.policy, params.get("resource"));
  const scopes = grantableScopes(deps.policy, parseScope(params.get("scope")));
  return { codeChallenge: challenge, resource, scopes };
}

export function authorizeRoutes(deps: AuthorizeDeps) {
  const app = new Hono();

  app.get("/", async function authorize(c) {
    const url = new URL(c.req.url);
    const returnPath = signInReturnPath(url);
    const params = readParams(c);
    const state = params.get("state");
    let verified: { client: OAuthClient; redirectUri: string };
    try {
      if (returnPath.length > MAX_AUTHORIZE_REQUEST) {
        throw new AuthorizePageError("Request too long", "This authorization request is too long to continue.", 414);
      }
      verified = await verifyClient(deps, params, clientIp(c, deps.trustProxy));
    } catch (error) {
      if (error instanceof AuthorizePageError) {
        for (const [name, value] of Object.entries(error.headers)) c.header(name, value);
        return deps.ui.renderError(c, error.title, error.message, error.status);
      }
      throw error;
    }
    const { client, redirectUri } = verified;
    // OAuth 2.1 §7.13.2, RFC 9700 §4.11.2: authenticate before anything — an error included — goes back to the client.
    const user = deps.ui.currentUser(c);
    if (!user) return c.redirect(deps.ui.signInUrl(returnPath), 303);
    try {
      const request = validateRequest(deps, params);
      const pending = await deps.pending.put({
        clientId: client.clientId,
        clientName: client.clientName ?? client.clientId,
        clientSource: client.source,
        clientRegisteredAt: client.createdAt.toISOString(),
        clientUri: typeof client.metadata.client_uri === "string" ? client.metadata.client_uri : null,
        redirectUri,
        state,
        ...request,
      });
      return deps.ui.renderConsent(c, pending, user);
    } catch (error) {
      if (error instanceof OAuthError) return redirectError(c, deps, new AuthorizeRedirectError(error, redirectUri, state, client));
      throw error;
    }
  });

  app.post("/", async function decide(c) {
    const form = await c.req.parseBody().catch(() => ({}) as Record<string, unknown>);
    const field = (name: string) => (typeof form[name] === "string" ? (form[name] as string) : undefined);
    const requestId = field("request_id");
    const decision = field("decision");
    const user = deps.ui.currentUser(c);
    if (!user) return deps.ui.renderError(c, "Signed out", "Your session ended. Start again from the application.");
    if (!requestId || requestId.length > 64 || !deps.ui.checkDecisionRequest(c, requestId, field("csrf_token"))) {
      return deps.ui.renderError(c, "Request refused", "This form was not sent from your consent page (CSRF check failed).", 403);
    }
    if (decision !== "approve" && decision !== "deny") {
      return deps.ui.renderError(c, "Invalid request", "The decision must be approve or deny.");
    }
    const pending = await deps.pending.take(requestId);
    if (!pending) return deps.ui.renderError(c, "Request expired", "This authorization request has expired or was already answered.");
    if (decision === "deny") {
      const denied = new OAuthError("access_denied", "The user denied the request.");
      return redirectError(c, deps, new AuthorizeRedirectError(denied, pending.redirectUri, pending.state));
    }
    const code = await deps.codes.issue({
      connectionId: randomUUID(),
      clientId: pending.clientId,
      clientName: pending.clientName,
      redirectUri: pending.redirectUri,
      codeChallenge: pending.codeChallenge,
      resource: pending.resource,
      scopes: pending.scopes,
      userId: user.userId,
    });
    // OAuth 2.1 §7.5.3: 303, so the browser does not re-POST the form to the client.
    return c.redirect(authorizationResponseUrl(pending.redirectUri, { code, state: pending.state }, deps.policy.issuer), 303);
  });

  return app;
}

/**
 * RFC 9700 §4.11.2 (SPEC AZ-21), with `errorRedirects: "trusted"`: a request
 * nobody consented to only sends the browser on automatically to a redirect
 * URI we trust — one on the person's own machine (loopback, an app's
 * private-use scheme) or one an operator registered. Anyone can register an
 * https URI by DCR or a metadata document, so a crafted link could otherwise
 * use this server as a redirector to any site; there the person sees the
 * error and chooses. A person's own Deny (no `client`) always goes straight
 * back. The default stays `always`, the behaviour OAuth 2.1 §4.1.2.1
 * describes and clients expect.
 */
function trustedForErrors(client: OAuthClient | undefined, redirectUri: string): boolean {
  if (!client || client.source === "static") return true;
  const check = checkRedirectUri(redirectUri);
  return check.ok && check.kind !== "https";
}

function redirectError(c: Context, deps: AuthorizeDeps, error: AuthorizeRedirectError): Response | Promise<Response> {
  const url = authorizationResponseUrl(
    error.redirectUri,
    { error: error.oauth.code, error_description: error.oauth.description, state: error.state },
    deps.policy.issuer,
  );
  if (deps.errorRedirects === "trusted" && !trustedForErrors(error.client, error.redirectUri)) {
    return deps.ui.renderErrorNotice(c, {
      clientName: error.client?.clientName ?? error.client?.clientId ?? "",
      description: error.oauth.description,
      returnUrl: url,
      returnHost: new URL(error.redirectUri).host,
    });
  }
  return c.redirect(url, 303);
}
