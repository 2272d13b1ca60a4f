/**
 * Which 2026-07-28 requests the lean dispatch may answer: those the SDK's
 * `createMcpHandler` would classify as a modern request and let through every
 * pre-dispatch rung (JSON-RPC shape, `_meta` envelope, standard headers), and
 * that nothing in them can stream (no progress token, no log level) or
 * continue a multi-round-trip exchange (no `inputResponses`/`requestState`).
 *
 * The checks are structural, in place of the SDK's zod schemas (its own
 * classifier costs tens of µs a request); an envelope outside the common shape
 * is handed to the SDK's exported `classifyInboundRequest`, which decides
 * exactly. Whatever this cannot prove clean returns undefined and goes to the
 * SDK, which then gives the exact rejection: being strict here costs only
 * speed, being lax would change answers.
 */
import {
  classifyInboundRequest,
  CLIENT_CAPABILITIES_META_KEY,
  CLIENT_INFO_META_KEY,
  LOG_LEVEL_META_KEY,
  PROTOCOL_VERSION_META_KEY,
  RELATED_TASK_META_KEY,
} from "@modelcontextprotocol/server";

export const MODERN_REVISION = "2026-07-28";

/** Methods whose whole answer is a static list, learned once from the SDK (see lists.ts). */
export const LIST_METHODS = new Set(["server/discover", "tools/list", "prompts/list", "resources/list", "resources/templates/list"]);

/** The request field the `Mcp-Name` header mirrors (SEP-2243 standard headers; the SDK's MCP_NAME_HEADER_SOURCE). */
const NAME_FIELD: Readonly<Record<string, "name" | "uri">> = { "tools/call": "name", "prompts/get": "name", "resources/read": "uri" };

export interface LeanRequest {
  id: string | number;
  method: string;
  /** The body's `params`, as parsed. */
  params: Record<string, unknown>;
  /** `params._meta`, as parsed (the envelope plus any extension keys). */
  meta: Record<string, unknown>;
}

export type Json = Record<string, unknown>;

export function isPlainObject(value: unknown): value is Json {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** JSON.parse makes `__proto__` an own key; the SDK's copies (spread, zod records) treat it apart. Leave such input to the SDK. */
function hasProtoKey(value: Json): boolean {
  return Object.prototype.hasOwnProperty.call(value, "__proto__");
}

/** The request, if the lean dispatch may answer it; undefined sends it to the SDK. */
export function leanRequest(request: Request, body: unknown): LeanRequest | undefined {
  if (request.method !== "POST" || !isPlainObject(body) || hasProtoKey(body)) return undefined;
  // JSON-RPC request shape: the SDK's JSONRPCRequestSchema is strict.
  for (const key in body) if (key !== "jsonrpc" && key !== "id" && key !== "method" && key !== "params") return undefined;
  const { jsonrpc, id, method, params } = body;
  if (jsonrpc !== "2.0" || typeof method !== "string" || !(typeof id === "string" || Number.isSafeInteger(id))) return undefined;
  if (!isPlainObject(params) || hasProtoKey(params)) return undefined;
  // Multi-round-trip retries carry driver material the SDK verifies and surfaces (SEP-2322).
  if ("inputResponses" in params || "requestState" in params) return undefined;
  const meta = params._meta;
  if (!isPlainObject(meta) || meta[PROTOCOL_VERSION_META_KEY] !== MODERN_REVISION) return undefined;
  if (!paramsFit(method, params)) return undefined;
  if (!headersFit(request.headers, method, params)) return undefined;
  if (!envelopeFits(meta) && !sdkClassifiesModern(request.headers, body)) return undefined;
  return { id: id as string | number, method, params, meta };
}

/** Per-method params the SDK's dispatch schemas accept and our handlers serve without anything odd. */
function paramsFit(method: string, params: Json): boolean {
  switch (method) {
    case "tools/call":
      return typeof params.name === "string" && (params.arguments === undefined || (isPlainObject(params.arguments) && !hasProtoKey(params.arguments)));
    case "prompts/get": {
      const args = params.arguments;
      if (typeof params.name !== "string") return false;
      if (args === undefined) return true;
      return isPlainObject(args) && !hasProtoKey(args) && Object.values(args).every((value) => typeof value === "string");
    }
    case "resources/read":
      return typeof params.uri === "string";
    default:
      // Lists are answered whole; a cursor is left to the SDK.
      return LIST_METHODS.has(method) && !("cursor" in params);
  }
}

/**
 * SEP-2243 standard headers: `MCP-Protocol-Version` and `Mcp-Method` present and equal to the body, and
 * `Mcp-Name` equal to `params.name`/`params.uri` where the method has one. A Base64 sentinel
 * (`=?base64?…?=`) is left to the SDK's decoder. Fetch's `Headers.get` has already trimmed whitespace.
 */
function headersFit(headers: Headers, method: string, params: Json): boolean {
  if (headers.get("mcp-protocol-version") !== MODERN_REVISION || headers.get("mcp-method") !== method) return false;
  const field = NAME_FIELD[method];
  if (field === undefined) return true;
  const name = headers.get("mcp-name");
  return name !== null && !name.startsWith("=?base64?") && name === params[field];
}

/**
 * The common envelope, checked as the SDK's RequestMetaEnvelopeSchema (2026-07-28 wire) would accept it:
 * no progress token, log level or related task (those change what the call may send), `clientInfo`
 * absent or a plain Implementation, `clientCapabilities` an object naming none of the capabilities the
 * schema types. Anything else is decided by the SDK's classifier.
 */
function envelopeFits(meta: Json): boolean {
  for (const key in meta) {
    if (key === "progressToken" || key === LOG_LEVEL_META_KEY || key === RELATED_TASK_META_KEY || key === "__proto__") return false;
  }
  if (CLIENT_INFO_META_KEY in meta && !plainImplementation(meta[CLIENT_INFO_META_KEY])) return false;
  const capabilities = meta[CLIENT_CAPABILITIES_META_KEY];
  if (!isPlainObject(capabilities)) return false;
  return !["experimental", "sampling", "elicitation", "roots", "extensions"].some((key) => key in capabilities);
}

function plainImplementation(value: unknown): boolean {
  if (!isPlainObject(value) || typeof value.name !== "string" || typeof value.version !== "string" || "icons" in value) return false;
  return ["title", "websiteUrl", "description"].every((key) => value[key] === undefined || typeof value[key] === "string");
}

/** The exact (slower) answer for envelopes outside the common shape, from the SDK's own classifier. */
function sdkClassifiesModern(headers: Headers, body: Json): boolean {
  const meta = (body.params as Json)._meta as Json;
  // What the SDK classifier accepts but our handlers would have to honour is still refused.
  if ("progressToken" in meta || LOG_LEVEL_META_KEY in meta || hasProtoKey(meta)) return false;
  const outcome = classifyInboundRequest({
    httpMethod: "POST",
    protocolVersionHeader: MODERN_REVISION,
    mcpMethodHeader: body.method as string,
    ...(headers.has("mcp-name") ? { mcpNameHeader: headers.get("mcp-name")! } : {}),
    body,
  });
  return outcome.kind === "modern" && outcome.messageKind === "request";
}
