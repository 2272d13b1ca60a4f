/**
 * The bytes the SDK puts on the wire for a 2026-07-28 answer, without the SDK:
 * the result encode contract of its 2026 wire codec (deleted-field strictness,
 * the `resultType` stamp, the cache fields, the `_meta` serverInfo stamp —
 * core-internal wire/rev2026-07-28/encodeContract.ts and codec.ts, SDK 2.4),
 * the JSON-RPC framing of its Protocol (`{result, jsonrpc, id}`, errors as
 * `{jsonrpc, id, error}`), and the per-request transport's HTTP status
 * (in-band 200, except -32021, which the spec answers with 400). The steps are
 * copied in their order, because key order is part of the bytes.
 */
import { ProtocolError, ProtocolErrorCode, SERVER_INFO_META_KEY } from "@modelcontextprotocol/server";
import { isPlainObject, type Json } from "./request.js";

/** Methods whose results carry `ttlMs`/`cacheScope` (SEP-2549; the SDK's CACHEABLE_RESULT_METHODS). */
const CACHEABLE = new Set(["tools/list", "prompts/list", "resources/list", "resources/templates/list", "resources/read", "server/discover"]);
/** Methods whose results may be `input_required` (multi round-trip); a handler's `resultType` passes through on these. */
const EXTENDED_RESULT_TYPE = new Set(["tools/call", "prompts/get", "resources/read"]);

const JSON_HEADERS = { "Content-Type": "application/json" } as const;

/** Handler result → wire result, as the SDK's `rev2026Codec.encodeResult` (throws where it throws). */
export function encodeResult(method: string, result: Json, serverInfo: Json): Json {
  // The common tools/call result: the two stamps in one copy, in the order the steps add them.
  if (method === "tools/call" && isPlainObject(result) && !("resultType" in result) && !("_meta" in result) && !("capabilities" in result)) {
    return extend(result, { resultType: "complete", _meta: { [SERVER_INFO_META_KEY]: serverInfo } });
  }
  return stampServerInfoMeta(fillCacheFields(method, stampResultType(method, enforceDeletedFields(method, result))), serverInfo);
}

/**
 * `{ ...base, ...members }`, the SDK's copies, made with Object.assign: V8 takes a slow path for a spread
 * followed by more members (µs per result). A source with its own `__proto__` key keeps the spread, which
 * copies that key where assign would set the prototype instead.
 */
function extend(base: unknown, members: Json): Json {
  return Object.prototype.hasOwnProperty.call(base ?? {}, "__proto__") ? { ...(base as Json), ...members } : Object.assign({}, base, members);
}

function enforceDeletedFields(method: string, result: Json): Json {
  let next = result;
  let copied = false;
  const copy = () => {
    if (!copied) {
      next = { ...next };
      copied = true;
    }
    return next;
  };
  // The 2026 wire has no `execution` (taskSupport) on tools and no `tasks` capability.
  const tools = result.tools;
  if (method === "tools/list" && Array.isArray(tools) && tools.some((tool) => isPlainObject(tool) && "execution" in tool)) {
    copy().tools = tools.map((tool: unknown) => {
      if (!isPlainObject(tool) || !("execution" in tool)) return tool;
      const rest = { ...tool };
      delete rest.execution;
      return rest;
    });
  }
  const capabilities = result.capabilities;
  if (isPlainObject(capabilities) && "tasks" in capabilities) {
    const rest = { ...capabilities };
    delete rest.tasks;
    copy().capabilities = rest;
  }
  return next;
}

function stampResultType(method: string, result: Json): Json {
  const provided = result.resultType;
  if (provided === undefined) return extend(result, { resultType: "complete" });
  if (provided === "complete" || EXTENDED_RESULT_TYPE.has(method)) return result;
  throw new ProtocolError(
    ProtocolErrorCode.InternalError,
    `Handler for ${method} returned resultType '${String(provided)}', but results of ${method} only support 'complete' on protocol revision 2026-07-28`,
  );
}

/** Lean dispatch never attaches a configured cache hint (methods with one go to the SDK), so only handler values and defaults apply. */
function fillCacheFields(method: string, result: Json): Json {
  if (result.resultType !== "complete" || !CACHEABLE.has(method)) return result;
  const ttlMs = typeof result.ttlMs === "number" && Number.isSafeInteger(result.ttlMs) && result.ttlMs >= 0 ? result.ttlMs : 0;
  const cacheScope = result.cacheScope === "public" || result.cacheScope === "private" ? result.cacheScope : "private";
  return extend(result, { ttlMs, cacheScope });
}

function stampServerInfoMeta(result: Json, serverInfo: Json): Json {
  const meta = result._meta;
  if (meta === undefined) return extend(result, { _meta: { [SERVER_INFO_META_KEY]: serverInfo } });
  if (!isPlainObject(meta) || meta[SERVER_INFO_META_KEY] !== undefined) return result;
  return extend(result, { _meta: extend(meta, { [SERVER_INFO_META_KEY]: serverInfo }) });
}

/** A JSON-RPC result, framed and sent as the per-request transport sends it. */
export function resultResponse(id: string | number, result: unknown): Response {
  return new Response(JSON.stringify({ result, jsonrpc: "2.0", id }), { status: 200, headers: JSON_HEADERS });
}

/** A result already serialized (a learned list): the same bytes as `resultResponse` would write. */
export function serializedResultResponse(id: string | number, resultJson: string): Response {
  return new Response(`{"result":${resultJson},"jsonrpc":"2.0","id":${JSON.stringify(id)}}`, { status: 200, headers: JSON_HEADERS });
}

export interface WireError {
  code: number;
  message: string;
  data?: unknown;
}

/** A JSON-RPC error answered in-band: 200, except -32021 (MissingRequiredClientCapability), which MCP 2026-07-28 answers with 400. */
export function errorResponse(id: string | number, error: WireError): Response {
  const body = { jsonrpc: "2.0", id, error: { code: error.code, message: error.message, ...(error.data !== undefined && { data: error.data }) } };
  const status = error.code === ProtocolErrorCode.MissingRequiredClientCapability ? 400 : 200;
  return new Response(JSON.stringify(body), { status, headers: JSON_HEADERS });
}

/**
 * A handler's throw as the SDK's Protocol answers it: the thrown `code` when it is an integer (-32002
 * resource-not-found becomes -32602 on 2026-07-28), else -32603; its message, else "Internal error".
 * The SDK sends nothing at all for a thrown `null`/`undefined` (its error path itself throws); we answer
 * that with -32603 rather than leave the request hanging (see `undeliverable` in dispatch.ts).
 */
export function thrownError(thrown: unknown): WireError {
  if (thrown === null || thrown === undefined) return { code: ProtocolErrorCode.InternalError, message: "Internal error" };
  const fields = thrown as { code?: unknown; message?: unknown; data?: unknown };
  const code = Number.isSafeInteger(fields.code) ? (fields.code as number) : ProtocolErrorCode.InternalError;
  return {
    code: code === -32_002 ? ProtocolErrorCode.InvalidParams : code,
    message: (fields.message ?? "Internal error") as string,
    ...(fields.data !== undefined && { data: fields.data }),
  };
}

/** The SDK's answer when encoding a result throws (its Protocol reports it and sends -32603). */
export const ENCODE_FAILED: WireError = { code: ProtocolErrorCode.InternalError, message: "Internal error" };
