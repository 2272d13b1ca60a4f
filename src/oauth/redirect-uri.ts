// Redirect URI validation (registration) and matching (authorize/token): PRODUCT.md
// "Clients and redirects", THREATS.md 1-7, SPEC-CHECKLIST DCR-5, DCR-6, AZ-3, CIMD-7.
// Pure logic. Reasons go into `error_description` and never echo the input.

export type RedirectUriKind = "https" | "loopback" | "private-use";
export type RedirectUriCheck = { ok: true; kind: RedirectUriKind; uri: string } | { ok: false; reason: string };

const MAX_LENGTH = 2000;
const LOOPBACK_HOSTS: ReadonlySet<string> = new Set(["localhost", "127.0.0.1", "[::1]"]);
const IDE_SCHEMES: ReadonlySet<string> = new Set(["cursor", "vscode", "vscode-insiders", "windsurf", "claude"]);
const FORBIDDEN_SCHEMES: ReadonlySet<string> = new Set([
  "javascript", "data", "file", "vbscript", "blob", "about", "ftp", "ws", "wss",
]);
const SCHEME = /^([a-zA-Z][a-zA-Z0-9+.-]*):/;
const REVERSE_DOMAIN = /^[a-z][a-z0-9-]*(\.[a-z0-9-]+)+$/;
// "." or "..", also percent-encoded, also with a ";param" suffix ("..;" is the Tomcat/Keycloak variant).
const DOT_SEGMENT = /^(\.|%2e){1,2}(;.*)?$/i;

const fail = (reason: string): RedirectUriCheck => ({ ok: false, reason });

/** Validate a redirect URI at registration time (DCR or Client ID Metadata Document). */
export function checkRedirectUri(raw: unknown): RedirectUriCheck {
  if (typeof raw !== "string") return fail("redirect_uri must be a string");
  if (raw.length === 0) return fail("redirect_uri must not be empty");
  if (raw.length > MAX_LENGTH) return fail("redirect_uri is too long");
  // WHATWG URL parsing trims C0 controls/spaces and deletes tabs and newlines anywhere, so
  // " javascript:" and "java\tscript:" run as javascript: (THREATS 4). Printable ASCII only
  // closes every such disguise, and IDN look-alikes with it.
  if (!/^[\x21-\x7e]+$/.test(raw)) return fail("redirect_uri must be printable ASCII without whitespace");
  // WHATWG URL reads "\" as "/" in http(s) URLs, which moves the authority boundary.
  if (raw.includes("\\")) return fail("redirect_uri must not contain a backslash");
  // RFC 6749 §3.1.2, OAuth 2.1 §2.3: no fragment component, not even an empty one.
  if (raw.includes("#")) return fail("redirect_uri must not contain a fragment");
  // RFC 6749 §3.1.2: the redirection endpoint URI MUST be an absolute URI.
  const scheme = SCHEME.exec(raw)?.[1]?.toLowerCase();
  if (scheme === undefined) return fail("redirect_uri must be an absolute URI");
  if (FORBIDDEN_SCHEMES.has(scheme)) return fail("redirect_uri scheme is not allowed");

  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return fail("redirect_uri is not a valid URI");
  }
  // Matching is by exact string (RFC 9700 §4.1.3) but the browser navigates to the parsed form.
  // Requiring raw === parsed makes what we compare what the browser visits: "127.1",
  // "0x7f.0.0.1", "LOCALHOST", "[0:0::1]", "%2e%2e", ":443", "HTTPS:" all parse to something
  // else and are refused. Sole tolerance: the "/" WHATWG appends to an empty http(s) path.
  if (url.href !== raw && url.href !== `${raw}/`) return fail("redirect_uri is not in canonical form");
  // RFC 3986 §3.2.1 deprecates userinfo; "http://localhost:8090%25@evil.com" is canonical and
  // still points at evil.com (zitadel #12559), so check the parsed parts, not the text.
  if (url.username !== "" || url.password !== "") return fail("redirect_uri must not contain userinfo");
  // RFC 3986 §5.2.4 dot segments; non-special schemes keep "..;" and opaque "../" unresolved.
  if (url.pathname.split("/").some((s) => DOT_SEGMENT.test(s))) {
    return fail("redirect_uri must not contain dot segments");
  }

  const ok = (kind: RedirectUriKind): RedirectUriCheck => ({ ok: true, kind, uri: raw });
  if (scheme === "https") return ok("https");
  // OAuth 2.1 §2.3.1, RFC 8252 §7.3: plain http only to a loopback host, written literally.
  if (scheme === "http") {
    return LOOPBACK_HOSTS.has(url.hostname) ? ok("loopback") : fail("http redirect_uri must use a loopback host");
  }
  // RFC 8252 §7.1, OAuth 2.1 §2.3.1: private-use schemes in reverse-domain form; single-label
  // schemes only for the known IDE clients (THREATS 4, CF #29), since "myapp:" is claimable by anyone.
  if (REVERSE_DOMAIN.test(scheme) || IDE_SCHEMES.has(scheme)) return ok("private-use");
  return fail("redirect_uri scheme is not allowed");
}

/**
 * Does the redirect_uri presented at /authorize (or token endpoint) match one of the registered
 * ones? Returns the registered entry matched, or null.
 */
export function matchRedirectUri(registered: readonly string[], presented: string): string | null {
  const check = checkRedirectUri(presented);
  if (!check.ok) return null;
  // RFC 9700 §4.1.3, OAuth 2.1 §4.1.1: simple string comparison; no case, slash or %-normalising.
  const exact = registered.find((r) => r === presented);
  if (exact !== undefined) return exact;
  if (check.kind !== "loopback") return null;
  // RFC 8252 §7.3, RFC 9700 §2.1: a native app binds an ephemeral port at run time, so only the
  // port may differ; scheme, host literal, path and query stay byte-identical.
  const key = withoutPort(presented);
  const hit = registered.find((r) => {
    const c = checkRedirectUri(r);
    return c.ok && c.kind === "loopback" && withoutPort(r) === key;
  });
  return hit ?? null;
}

// Only called on canonical loopback URIs, which start with exactly "http://" + host.
function withoutPort(uri: string): string {
  const { host, hostname } = new URL(uri);
  return `http://${hostname}${uri.slice(`http://${host}`.length)}`;
}
