/**
 * Raw MCP over HTTP for black-box tests: JSON-RPC posting for both protocol
 * generations and legacy (2025) session set-up. Streams: sse.ts; users,
 * timing and several nodes: mcp-fixtures.ts.
 */
import { expect } from "vitest";
import { type JsonRpcMessage, type SseEvent, SseReader, messageOf } from "./sse.js";

export const LEGACY_VERSIONS = ["2025-11-25", "2025-06-18", "2025-03-26"] as const;
export type LegacyVersion = (typeof LEGACY_VERSIONS)[number];
export const MODERN_VERSION = "2026-07-28";

/* ------------------------------------------------------------ requests */

export interface McpRequestOptions {
  method?: "POST" | "GET" | "DELETE";
  /** A JSON-RPC message (or anything: it is sent as JSON). */
  body?: unknown;
  /** A body sent verbatim (wins over `body`). */
  rawBody?: string;
  sessionId?: string;
  protocolVersion?: string;
  lastEventId?: string;
  /** null sends no Authorization header. */
  token: string | null;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

/** One HTTP request to /mcp with the headers a well-behaved client sends; the raw response. */
export function mcpFetch(base: string, options: McpRequestOptions): Promise<Response> {
  const method = options.method ?? "POST";
  const headers: Record<string, string> = {
    accept: method === "POST" ? "application/json, text/event-stream" : "text/event-stream",
    ...(method === "POST" ? { "content-type": "application/json" } : {}),
    ...(options.token !== null ? { authorization: `Bearer ${options.token}` } : {}),
    ...(options.sessionId !== undefined ? { "mcp-session-id": options.sessionId } : {}),
    ...(options.protocolVersion !== undefined ? { "mcp-protocol-version": options.protocolVersion } : {}),
    ...(options.lastEventId !== undefined ? { "last-event-id": options.lastEventId } : {}),
    ...options.headers,
  };
  return fetch(`${base}/mcp`, {
    method,
    headers,
    ...(method === "POST" ? { body: options.rawBody ?? JSON.stringify(options.body) } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  });
}

let nextId = 1;
export function rpcId(): number {
  return nextId++;
}

export function request(method: string, params: Record<string, unknown> = {}, id: string | number = rpcId()): JsonRpcMessage {
  return { jsonrpc: "2.0", id, method, params };
}

export function notification(method: string, params?: Record<string, unknown>): JsonRpcMessage {
  return { jsonrpc: "2.0", method, ...(params ? { params } : {}) };
}

export interface RpcExchange {
  status: number;
  headers: Headers;
  /** The JSON-RPC response with the request's id (null if none came). */
  message: JsonRpcMessage | null;
  /** Everything the response carried, in order (SSE: all events; JSON: the one body). */
  events: SseEvent[];
  /** The raw body text (JSON and error responses; for SSE, the event data joined). */
  text: string;
}

/**
 * Reads a POST's answer whatever its form: a JSON body, or an SSE stream
 * up to the response for `id` (then the stream is read to its end).
 */
export async function readExchange(response: Response, id: string | number | null, timeoutMs = 10_000): Promise<RpcExchange> {
  const type = response.headers.get("content-type") ?? "";
  if (type.includes("text/event-stream")) {
    const reader = new SseReader(response);
    const events = await reader.until((_, m) => m !== null && m.id === id && (m.result !== undefined || m.error !== undefined), timeoutMs);
    const after = await reader.rest(timeoutMs);
    const all = [...events, ...after];
    const message = all.map(messageOf).find((m) => m !== null && m.id === id && (m.result !== undefined || m.error !== undefined)) ?? null;
    return { status: response.status, headers: response.headers, message, events: all, text: all.map((e) => e.data).join("\n") };
  }
  const text = await response.text();
  let message: JsonRpcMessage | null;
  try {
    message = JSON.parse(text) as JsonRpcMessage;
  } catch {
    message = null;
  }
  return { status: response.status, headers: response.headers, message, events: [], text };
}

/** POST one JSON-RPC request and read its answer. */
export async function rpc(base: string, options: Omit<McpRequestOptions, "method" | "body"> & { body: JsonRpcMessage }): Promise<RpcExchange> {
  const response = await mcpFetch(base, { ...options, method: "POST" });
  return readExchange(response, options.body.id ?? null);
}

/** The `_meta` envelope of a 2026-07-28 request. */
export function envelope(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    "io.modelcontextprotocol/protocolVersion": MODERN_VERSION,
    "io.modelcontextprotocol/clientInfo": { name: "raw-test-client", version: "1.0.0" },
    "io.modelcontextprotocol/clientCapabilities": {},
    ...extra,
  };
}

/** A 2026-07-28 request as a raw POST: envelope in `_meta`, `MCP-Protocol-Version`, `Mcp-Method` and `Mcp-Name` headers. */
export function modernFetch(
  base: string,
  token: string | null,
  method: string,
  params: Record<string, unknown> = {},
  options: { id?: string | number; headers?: Record<string, string>; signal?: AbortSignal } = {},
): Promise<Response> {
  const id = options.id ?? rpcId();
  const meta = (params._meta as Record<string, unknown> | undefined) ?? {};
  const name =
    method === "tools/call" || method === "prompts/get" ? String(params.name) : method === "resources/read" ? String(params.uri) : undefined;
  return mcpFetch(base, {
    token,
    protocolVersion: MODERN_VERSION,
    body: { jsonrpc: "2.0", id, method, params: { ...params, _meta: envelope(meta) } },
    headers: { "mcp-method": method, ...(name !== undefined ? { "mcp-name": name } : {}), ...options.headers },
    ...(options.signal ? { signal: options.signal } : {}),
  });
}

/** A 2026-07-28 request and its answer. */
export async function modernRpc(
  base: string,
  token: string | null,
  method: string,
  params: Record<string, unknown> = {},
  options: { headers?: Record<string, string> } = {},
): Promise<RpcExchange> {
  const id = rpcId();
  return readExchange(await modernFetch(base, token, method, params, { ...options, id }), id);
}

/* ------------------------------------------------------ legacy sessions */

export interface LegacySession {
  id: string;
  version: LegacyVersion;
  /** The InitializeResult. */
  result: Record<string, unknown>;
  /** The protocol version header later requests carry (2025-03-26 predates the header). */
  header: string | undefined;
}

/** initialize → Mcp-Session-Id → notifications/initialized (202), as a 2025 client does. */
export async function openSession(
  base: string,
  token: string,
  version: LegacyVersion = "2025-11-25",
  capabilities: Record<string, unknown> = {},
): Promise<LegacySession> {
  const init = await rpc(base, {
    token,
    body: request("initialize", { protocolVersion: version, capabilities, clientInfo: { name: "raw-test-client", version: "1.0.0" } }),
  });
  expect(init.status, init.text).toBe(200);
  const id = init.headers.get("mcp-session-id");
  expect(id, "initialize answers with Mcp-Session-Id").toBeTruthy();
  expect(init.message?.result, init.text).toBeDefined();
  const header = version === "2025-03-26" ? undefined : version;
  const initialized = await mcpFetch(base, {
    token,
    sessionId: id!,
    ...(header ? { protocolVersion: header } : {}),
    body: notification("notifications/initialized"),
  });
  expect(initialized.status).toBe(202);
  await initialized.body?.cancel();
  return { id: id!, version, result: init.message!.result!, header };
}

/** A request within a legacy session. */
export function sessionRpc(
  base: string,
  token: string,
  session: LegacySession,
  body: JsonRpcMessage,
  headers: Record<string, string> = {},
): Promise<RpcExchange> {
  return rpc(base, {
    token,
    sessionId: session.id,
    ...(session.header ? { protocolVersion: session.header } : {}),
    body,
    headers,
  });
}

/** POST within a session without reading the body (SSE streams the caller reads itself). */
export function sessionPost(
  base: string,
  token: string,
  session: LegacySession,
  body: JsonRpcMessage,
  init: { headers?: Record<string, string>; signal?: AbortSignal } = {},
): Promise<Response> {
  return mcpFetch(base, {
    token,
    sessionId: session.id,
    ...(session.header ? { protocolVersion: session.header } : {}),
    body,
    ...init,
  });
}

/** GET: the session's standalone stream, or a resumption with `Last-Event-ID`. */
export function sessionGet(
  base: string,
  token: string,
  session: Pick<LegacySession, "id" | "header">,
  lastEventId?: string,
  signal?: AbortSignal,
): Promise<Response> {
  return mcpFetch(base, {
    method: "GET",
    token,
    sessionId: session.id,
    ...(session.header ? { protocolVersion: session.header } : {}),
    ...(lastEventId !== undefined ? { lastEventId } : {}),
    ...(signal ? { signal } : {}),
  });
}

/** Opens the session's standalone GET stream. */
export async function openGetStream(base: string, token: string, session: LegacySession): Promise<SseReader> {
  const response = await sessionGet(base, token, session);
  expect(response.status).toBe(200);
  expect(response.headers.get("content-type") ?? "").toContain("text/event-stream");
  // The headers arrive once the stream is attached to the session.
  return new SseReader(response);
}
