// Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document, MCP 2026-07-28).
import dns from "node:dns";
import https from "node:https";
import net from "node:net";
import type { IncomingMessage } from "node:http";
import { z } from "zod";
import { displayName, httpsUrl, MAX_URL_LENGTH } from "./client-fields.js";
import { checkRedirectUri } from "./redirect-uri.js";

export interface CimdFetchOptions {
  allowHosts: readonly string[];
  timeoutMs?: number;
  maxBytes?: number;
  lookup?: (hostname: string) => Promise<{ address: string; family: 4 | 6 }[]>;
  ca?: string | Buffer | Array<string | Buffer>;
}

export interface ClientMetadataDocument {
  clientId: string;
  clientName: string;
  redirectUris: string[];
  clientUri?: string; logoUri?: string; tosUri?: string; policyUri?: string; // https only
  scope?: string;
  tokenEndpointAuthMethod: "none";
  grantTypes: string[];
  responseTypes: string[];
  applicationType?: "web" | "native";
  maxAgeSeconds?: number;
}

export type CimdErrorKind = "invalid_url" | "fetch_failed" | "blocked_address" | "invalid_document";

export class CimdError extends Error {
  constructor(readonly kind: CimdErrorKind, message: string) {
    super(message);
    this.name = "CimdError";
  }
}


export function isClientIdUrl(clientId: string): boolean {
  return clientId.startsWith("https://");
}

// CIMD §3: https, a path, no dot segments, fragment or userinfo; a query SHOULD NOT be used, so we refuse it.
export function checkClientIdUrl(clientId: string): URL {
  const bad = (why: string) => new CimdError("invalid_url", `client_id URL ${why}`);
  if (typeof clientId !== "string" || clientId.length > MAX_URL_LENGTH) throw bad("is too long");
  // The URL parser strips or re-encodes whitespace, controls and invisible characters, and reads "\" as "/";
  // printable ASCII keeps the string we compare identical to the one we fetch (and shuts out IDN look-alikes).
  if (!/^[\x21-\x7e]*$/.test(clientId)) throw bad("must be printable ASCII without whitespace");
  if (clientId.includes("\\")) throw bad("must not contain a backslash");
  if (!isClientIdUrl(clientId)) throw bad("must start with https://");
  if (clientId.includes("#")) throw bad("must not have a fragment");
  if (clientId.includes("?")) throw bad("must not have a query");
  const rest = clientId.slice("https://".length);
  const slash = rest.indexOf("/");
  const authority = slash < 0 ? rest : rest.slice(0, slash);
  if (authority.includes("@")) throw bad("must not have userinfo");
  // Checked on the raw string: the URL parser silently resolves "." and ".." (also as %2e); "..;" is the Tomcat variant.
  const segments = slash < 0 ? [] : rest.slice(slash + 1).split("/");
  if (segments.some((s) => /^(\.|%2e){1,2}(;.*)?$/i.test(s))) throw bad("must not have dot segments");
  if (!URL.canParse(clientId)) throw bad("is not a valid URL");
  const url = new URL(clientId);
  if (url.protocol !== "https:" || url.hostname === "") throw bad("is not a valid https URL");
  if (url.pathname === "/" || url.pathname === "") throw bad("must have a path");
  return url;
}

// RFC 6890 special-purpose blocks (plus multicast, reserved and broadcast): never fetched unless allow-listed.
const V4_BLOCKS: readonly [string, number][] = [
  ["0.0.0.0", 8], ["10.0.0.0", 8], ["100.64.0.0", 10], ["127.0.0.0", 8], ["169.254.0.0", 16],
  ["172.16.0.0", 12], ["192.0.0.0", 24], ["192.0.2.0", 24], ["192.88.99.0", 24], ["192.168.0.0", 16],
  ["198.18.0.0", 15], ["198.51.100.0", 24], ["203.0.113.0", 24], ["224.0.0.0", 4], ["240.0.0.0", 4],
];
const V6_BLOCKS: readonly [string, number][] = [
  ["::", 128], ["::1", 128], ["fc00::", 7], ["fe80::", 10], ["fec0::", 10], ["ff00::", 8], ["2001:db8::", 32],
  ["64:ff9b::", 96], ["64:ff9b:1::", 48], ["100::", 64], ["2001::", 23],
];

function parseV4(ip: string): number | null {
  if (!net.isIPv4(ip)) return null;
  return ip.split(".").reduce((acc, octet) => acc * 256 + Number(octet), 0);
}

function parseV6(ip: string): bigint | null {
  let s = ip.replace(/%.*$/, ""); // zone id does not change the address class
  if (!net.isIPv6(s)) return null;
  const tail = s.slice(s.lastIndexOf(":") + 1);
  if (tail.includes(".")) {
    const v4 = parseV4(tail) ?? 0;
    s = `${s.slice(0, s.length - tail.length)}${(v4 >>> 16).toString(16)}:${(v4 & 0xffff).toString(16)}`;
  }
  const [head = "", rest] = s.split("::");
  const left = head ? head.split(":") : [];
  const right = rest ? rest.split(":") : [];
  const zeros: string[] = Array(rest === undefined ? 0 : 8 - left.length - right.length).fill("0");
  return [...left, ...zeros, ...right].reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n);
}

const inV4 = (n: number, [base, bits]: [string, number]) =>
  bits === 0 || n >>> (32 - bits) === (parseV4(base) ?? 0) >>> (32 - bits);
const inV6 = (n: bigint, [base, bits]: [string, number]) =>
  n >> BigInt(128 - bits) === (parseV6(base) ?? 0n) >> BigInt(128 - bits);

/** True for special-use addresses and for anything that is not an IP literal (fail closed). */
export function isPrivateAddress(ip: string): boolean {
  const bare = unbracket(ip);
  const v4 = parseV4(bare);
  if (v4 !== null) return v4 === 0xffffffff || V4_BLOCKS.some((b) => inV4(v4, b));
  const v6 = parseV6(bare);
  if (v6 === null) return true;
  // IPv4-mapped (::ffff:0:0/96) and IPv4-compatible (::/96) carry a v4 address in the low 32 bits.
  if (v6 >> 32n === 0xffffn || v6 >> 32n === 0n) return isPrivateAddress(v4Text(Number(v6 & 0xffffffffn)));
  // 6to4 (RFC 3056) embeds the v4 address in bits 16..48.
  if (v6 >> 112n === 0x2002n) return isPrivateAddress(v4Text(Number((v6 >> 80n) & 0xffffffffn)));
  return V6_BLOCKS.some((b) => inV6(v6, b));
}

const v4Text = (n: number) => [24, 16, 8, 0].map((s) => (n >>> s) & 0xff).join(".");
const unbracket = (host: string) => host.replace(/^\[(.*)\]$/, "$1");

type Resolved = { address: string; family: 4 | 6 };

async function defaultLookup(hostname: string): Promise<Resolved[]> {
  const all = await dns.promises.lookup(hostname, { all: true, verbatim: true });
  return all.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));
}

function isAllowListed(url: URL, allowHosts: readonly string[]): boolean {
  const host = url.hostname.toLowerCase();
  const port = url.port || "443";
  return allowHosts.some((h) => h.toLowerCase() === host || h.toLowerCase() === `${host}:${port}`);
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error("timeout")), ms);
  });
  return Promise.race([p, expired]).finally(() => clearTimeout(timer));
}

// CIMD §6.5 (-01): check every resolved address, then connect only to one we checked (no DNS rebinding window).
async function resolveTarget(url: URL, opts: CimdFetchOptions, timeoutMs: number): Promise<Resolved> {
  const host = unbracket(url.hostname);
  const ipFamily = net.isIP(host);
  const addrs: Resolved[] = ipFamily === 4 || ipFamily === 6
    ? [{ address: host, family: ipFamily }]
    : await withTimeout((opts.lookup ?? defaultLookup)(host), timeoutMs).catch(() => {
      throw new CimdError("fetch_failed", "client_id host could not be resolved");
    });
  const first = addrs[0];
  if (!first) throw new CimdError("fetch_failed", "client_id host has no addresses");
  if (!isAllowListed(url, opts.allowHosts) && addrs.some((a) => isPrivateAddress(a.address))) {
    throw new CimdError("blocked_address", "client_id host resolves to a private or special-use address");
  }
  return first;
}

function pinnedLookup(target: Resolved): net.LookupFunction {
  return (_hostname, options, callback) => {
    if (options.all) callback(null, [{ address: target.address, family: target.family }]);
    else callback(null, target.address, target.family);
  };
}

function maxAgeOf(res: IncomingMessage): number | undefined {
  const cc = String(res.headers["cache-control"] ?? "").toLowerCase();
  if (/(^|[\s,])(no-store|no-cache)([\s,=]|$)/.test(cc)) return 0;
  const m = /(?:^|[\s,])max-age\s*=\s*"?(\d{1,10})"?/.exec(cc);
  return m?.[1] === undefined ? undefined : Number(m[1]);
}

interface Fetched { body: Buffer; maxAgeSeconds: number | undefined }

function httpsGet(url: URL, target: Resolved, opts: CimdFetchOptions, timeoutMs: number): Promise<Fetched> {
  const maxBytes = opts.maxBytes ?? 5120;
  return new Promise<Fetched>((resolve, reject) => {
    const fail = (message: string) => {
      clearTimeout(timer);
      req.destroy();
      reject(new CimdError("fetch_failed", message));
    };
    const timer = setTimeout(() => fail(`fetch timed out after ${timeoutMs} ms`), timeoutMs);
    const host = unbracket(url.hostname);
    const req = https.request(url, {
      method: "GET",
      agent: false, // no pooled socket that could bypass the pinned address
      lookup: pinnedLookup(target),
      ...(net.isIP(host) ? {} : { servername: host }),
      rejectUnauthorized: true,
      ...(opts.ca !== undefined ? { ca: opts.ca } : {}),
      headers: { accept: "application/json" },
    });
    req.on("error", () => fail("fetch failed (connection or TLS error)"));
    req.on("response", (res) => {
      // CIMD §4 (-01): only 200 is success; redirects are never followed.
      if (res.statusCode !== 200) return fail(`metadata fetch returned HTTP ${res.statusCode ?? "?"}`);
      if (Number(res.headers["content-length"] ?? 0) > maxBytes) return fail(`metadata document exceeds ${maxBytes} bytes`);
      const chunks: Buffer[] = [];
      let size = 0;
      res.on("data", (chunk: Buffer) => {
        size += chunk.length;
        if (size > maxBytes) return fail(`metadata document exceeds ${maxBytes} bytes`);
        chunks.push(chunk);
      });
      res.on("error", () => fail("fetch failed while reading the body"));
      res.on("close", () => {
        if (!res.complete) fail("connection closed before the body was complete");
      });
      res.on("end", () => {
        clearTimeout(timer);
        resolve({ body: Buffer.concat(chunks), maxAgeSeconds: maxAgeOf(res) });
      });
    });
    req.end();
  });
}

export async function fetchClientMetadataDocument(clientId: string, opts: CimdFetchOptions): Promise<ClientMetadataDocument> {
  const url = checkClientIdUrl(clientId);
  // One deadline for DNS, connect, TLS, headers and body, so a slow drip cannot hold the fetch open (CIMD §6.6).
  const deadline = Date.now() + (opts.timeoutMs ?? 5000);
  const target = await resolveTarget(url, opts, deadline - Date.now());
  const { body, maxAgeSeconds } = await httpsGet(url, target, opts, Math.max(0, deadline - Date.now()));
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(body));
  } catch {
    throw new CimdError("invalid_document", "metadata document is not valid UTF-8 JSON");
  }
  const doc = parseClientMetadataDocument(clientId, json);
  return maxAgeSeconds === undefined ? doc : { ...doc, maxAgeSeconds };
}

const documentSchema = z.object({
  client_id: z.string(),
  client_name: displayName,
  redirect_uris: z.array(z.string()).min(1).max(20),
  client_uri: httpsUrl.optional(),
  logo_uri: httpsUrl.optional(),
  tos_uri: httpsUrl.optional(),
  policy_uri: httpsUrl.optional(),
  scope: z.string().max(1000).optional(),
  token_endpoint_auth_method: z.literal("none").optional(),
  grant_types: z.array(z.enum(["authorization_code", "refresh_token"])).refine((g) => g.includes("authorization_code")).optional(),
  response_types: z.tuple([z.literal("code")]).optional(),
  application_type: z.enum(["web", "native"]).optional(),
});

function rejectSecrets(doc: Record<string, unknown>): void {
  const bad = (message: string) => new CimdError("invalid_document", message);
  // CIMD §4.1: shared secrets are meaningless for a publicly fetchable document.
  if ("client_secret" in doc || "client_secret_expires_at" in doc) throw bad("client_secret fields are not allowed");
  const method = doc.token_endpoint_auth_method;
  // CIMD §6.2: private_key_jwt/jwks make the client confidential; Gatehouse only supports public CIMD clients.
  if (method === "private_key_jwt" || "jwks" in doc || "jwks_uri" in doc) {
    throw bad("confidential CIMD clients (private_key_jwt, jwks, jwks_uri) are not supported");
  }
  if (method !== undefined && method !== "none") throw bad("token_endpoint_auth_method must be none");
}

export function parseClientMetadataDocument(clientId: string, json: unknown): ClientMetadataDocument {
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new CimdError("invalid_document", "metadata document must be a JSON object");
  }
  rejectSecrets(json as Record<string, unknown>);
  const parsed = documentSchema.safeParse(json);
  if (!parsed.success) {
    const path = parsed.error.issues[0]?.path.join(".") || "document";
    throw new CimdError("invalid_document", `metadata document has an invalid or missing ${path}`);
  }
  const d = parsed.data;
  // CIMD §4.1 / MCP: simple string comparison, no normalisation.
  if (d.client_id !== clientId) throw new CimdError("invalid_document", "client_id does not match the document URL");
  const badUri = d.redirect_uris.findIndex((u) => !checkRedirectUri(u).ok);
  if (badUri >= 0) throw new CimdError("invalid_document", `redirect_uris.${badUri} is not an acceptable redirect URI`);
  const optional = {
    clientUri: d.client_uri, logoUri: d.logo_uri, tosUri: d.tos_uri, policyUri: d.policy_uri,
    scope: d.scope, applicationType: d.application_type,
  };
  return {
    clientId: d.client_id,
    clientName: d.client_name,
    redirectUris: d.redirect_uris,
    tokenEndpointAuthMethod: "none",
    grantTypes: d.grant_types ?? ["authorization_code"], // RFC 7591 §2 default
    responseTypes: d.response_types ?? ["code"],
    ...(Object.fromEntries(Object.entries(optional).filter(([, v]) => v !== undefined)) as Partial<ClientMetadataDocument>),
  };
}
