/**
 * Generated 2026-07-28 POSTs for the lean/SDK differential test: mostly
 * well-formed requests to the fixtures of lean-fixtures.ts, each then bent
 * in one or more ways the SDK's validation ladder cares about — envelope,
 * standard headers, ids, params, body shape — and results, throws and
 * arguments of every shape, unicode and large.
 */
import fc from "fast-check";
import type { RawRequest } from "./differential.js";

export const MODERN = "2026-07-28";
const PV = "io.modelcontextprotocol/protocolVersion";
const CI = "io.modelcontextprotocol/clientInfo";
const CC = "io.modelcontextprotocol/clientCapabilities";
const LL = "io.modelcontextprotocol/logLevel";

/** What is sent, before it becomes bytes. */
export interface Spec {
  method: string;
  id: unknown;
  params: Record<string, unknown> | undefined;
  headers: Record<string, string>;
  /** Extra top-level members, or a replaced `jsonrpc`. */
  top: Record<string, unknown>;
  /** Send this JSON text instead (batches, arrays, scalars). */
  raw?: string;
}

export function toRaw(spec: Spec, token: string): RawRequest {
  const body = spec.raw ?? JSON.stringify({ jsonrpc: "2.0", ...(spec.id === undefined ? {} : { id: spec.id }), method: spec.method, ...(spec.params ? { params: spec.params } : {}), ...spec.top });
  return { headers: { "content-type": "application/json", accept: "application/json, text/event-stream", authorization: `Bearer ${token}`, ...spec.headers }, body };
}

export function envelope(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { [PV]: MODERN, [CI]: { name: "differential", version: "1.0.0" }, [CC]: {}, ...extra };
}

/** The headers a conforming client sends for `method` with `params` (SEP-2243). */
export function standardHeaders(method: string, params: Record<string, unknown> | undefined): Record<string, string> {
  const nameField = method === "resources/read" ? "uri" : method === "tools/call" || method === "prompts/get" ? "name" : undefined;
  const name = nameField === undefined ? undefined : params?.[nameField];
  return { "mcp-protocol-version": MODERN, "mcp-method": method, ...(typeof name === "string" ? { "mcp-name": headerValue(name) } : {}) };
}

/** A header carries visible ASCII only: anything else goes in the Base64 sentinel, as clients send it. */
function headerValue(value: string): string {
  return /^[\x20-\x7e]*$/.test(value) && value.trim() === value ? value : `=?base64?${Buffer.from(value, "utf8").toString("base64")}?=`;
}

export function request(method: string, params: Record<string, unknown> = {}, id: unknown = 1): Spec {
  const full = { ...params, _meta: { ...envelope(), ...(params._meta as object | undefined) } };
  return { method, id, params: full, headers: standardHeaders(method, full), top: {} };
}

/* ------------------------------------------------------------ values */

const text = fc.oneof(fc.string({ unit: "grapheme", maxLength: 40 }), fc.string({ unit: "binary", maxLength: 20 }), fc.constantFrom("", " x ", "é", "😀", "\u0000", "a".repeat(70_000)));
const json = fc.jsonValue({ maxDepth: 3 });
const metaObject = fc.dictionary(fc.string({ maxLength: 8 }), json, { maxKeys: 2 });

/** Content blocks as the 2026-07-28 result schema has them (SDK buildSchemas ContentBlockSchema), right… */
const goodBlock = fc.oneof(
  fc.record({ type: fc.constant("text"), text }),
  fc.record(
    {
      type: fc.constant("text"),
      text,
      annotations: fc.record({ audience: fc.constant(["user", "assistant"]), priority: fc.constantFrom(0, 0.5, 1), lastModified: fc.constant("2025-01-01T00:00:00Z") }, { requiredKeys: [] }),
      _meta: metaObject,
    },
    { requiredKeys: ["type", "text"] },
  ),
  fc.record({ type: fc.constantFrom("image", "audio"), data: fc.constantFrom("aGVsbG8=", "iVBORw0KGgo=", ""), mimeType: fc.constantFrom("image/png", "audio/wav") }),
  fc.record({ type: fc.constant("resource_link"), uri: fc.constant("test://x"), name: fc.constant("x"), size: fc.constant(3), description: text }, { requiredKeys: ["type", "uri", "name"] }),
  fc.record({
    type: fc.constant("resource"),
    resource: fc.oneof(fc.record({ uri: fc.constant("test://r"), text, mimeType: fc.constant("text/plain") }, { requiredKeys: ["uri", "text"] }), fc.record({ uri: fc.constant("test://b"), blob: fc.constant("aGVsbG8=") })),
  }),
);
/** …and with one thing wrong or extra (extras are dropped by the schema, wrong ones fail it). */
const oddBlock = fc.oneof(
  goodBlock.map((b) => ({ ...b, extra: 1 })),
  goodBlock.map((b) => ({ ...b, type: "video" })),
  fc.constantFrom<unknown>(
    { type: "image", data: "not base64!", mimeType: "image/png" },
    { type: "audio", data: "aGVsbG8=" },
    { type: "text", text: 5 },
    { type: "text", text: "t", annotations: { priority: 2 } },
    { type: "text", text: "t", annotations: { audience: ["robot"] } },
    { type: "text", text: "t", annotations: { lastModified: "yesterday" } },
    { type: "resource", resource: { uri: "test://b", blob: "%%%" } },
    { type: "resource", resource: { uri: 5, text: "t" } },
    { type: "resource_link", uri: "test://x" },
    { type: "resource_link", uri: "test://x", name: "x", icons: [{ src: "i", theme: "dim" }] },
    null,
    "text",
  ),
);
const block = fc.oneof({ weight: 4, arbitrary: goodBlock }, { weight: 1, arbitrary: oddBlock });

/** Members that are not CallToolResult's but that the encoder or the wire looks at. */
const oddMember = fc.oneof(
  fc.record({ resultType: fc.constantFrom("complete", "weird") }),
  fc.record({ ttlMs: fc.constantFrom(0, 5, -1, 1.5, "9") }),
  fc.record({ cacheScope: fc.constantFrom("public", "private", "shared") }),
  fc.record({ capabilities: fc.constantFrom({ tasks: {} }, { tools: {} }) }),
  fc.record({ extra: json }),
  fc.record({ task: fc.constant({}) }),
);

/** A tools/call result: right, or with one member off. */
const toolResult = fc
  .tuple(
    fc.record(
      {
        content: fc.array(block, { maxLength: 3 }),
        structuredContent: fc.oneof(metaObject, json),
        isError: fc.oneof({ weight: 5, arbitrary: fc.boolean() }, { weight: 1, arbitrary: fc.constant("yes") }),
        _meta: fc.oneof(
          { weight: 4, arbitrary: metaObject },
          { weight: 1, arbitrary: fc.constantFrom({ "io.modelcontextprotocol/serverInfo": { name: "x" } }, { "io.modelcontextprotocol/serverInfo": { name: "x", version: "1" } }) },
          { weight: 1, arbitrary: json },
        ),
      },
      { requiredKeys: [] },
    ),
    fc.option(oddMember),
  )
  .map(([core, odd]) => ({ ...core, ...odd }));

const inputRequest = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom<unknown>(
    { method: "elicitation/create", params: { mode: "form", message: "name?", requestedSchema: { type: "object", properties: {} } } },
    { method: "elicitation/create", params: { message: "name?", requestedSchema: { type: "object", properties: {} } } },
    { method: "elicitation/create", params: { mode: "url", message: "go", url: "https://example.com" } },
    { method: "sampling/createMessage", params: { messages: [], maxTokens: 5 } },
    { method: "sampling/createMessage", params: { messages: [], maxTokens: 5, toolChoice: { mode: "auto" } } },
    { method: "roots/list" },
  ) },
  { weight: 1, arbitrary: fc.oneof(fc.constantFrom<unknown>({ method: "ping" }, { params: {} }), json) },
);

/** An input_required result: asking for input, carrying state, both, or neither. */
const inputRequired = fc
  .record(
    {
      inputRequests: fc.oneof({ weight: 5, arbitrary: fc.dictionary(fc.constantFrom("a", "b", "ask"), inputRequest, { minKeys: 1, maxKeys: 2 }) }, { weight: 1, arbitrary: json }),
      requestState: fc.oneof(fc.string(), json),
      _meta: metaObject,
    },
    { requiredKeys: [] },
  )
  .map((r) => ({ resultType: "input_required", ...r }));

/** Anything a handler may return. */
export const result = fc.oneof({ weight: 5, arbitrary: toolResult }, { weight: 2, arbitrary: inputRequired }, { weight: 1, arbitrary: json });

/** Client capabilities a request may declare (the input_required checks read them). */
const capabilities = fc.constantFrom<Record<string, unknown>>({}, { elicitation: {} }, { elicitation: { form: {} } }, { elicitation: { url: {} } }, { sampling: {} }, { sampling: { tools: {} } }, { roots: {} }, { elicitation: {}, sampling: {}, roots: {} });

/* ------------------------------------------------------------ requests */

const toolCall = fc.oneof(
  fc.record({ name: fc.constant("echo"), arguments: fc.oneof(fc.record({ text }), fc.record({ text: json }), json) }),
  fc.record({ name: fc.constant("strict"), arguments: fc.record({ n: fc.oneof(fc.integer(), json), tag: fc.constantFrom("a", "b", "c"), nested: fc.oneof(fc.record({ s: text }), json), list: json }, { requiredKeys: [] }) }),
  fc.record({
    name: fc.constant("raise"),
    arguments: fc.record({ kind: fc.constantFrom("error", "protocol", "coded", "value"), error: json, code: fc.constantFrom(-32_042, -32_002, -32_603, 1, -32_000, 1.5, "x"), data: json }),
  }),
  fc.record({ name: fc.constantFrom("bare", "probe", "push", "scoped", "two_scopes", "whoami", "announce", "nope", "constructor", "__proto__", "toString"), arguments: fc.constantFrom({}, undefined, [], null, { x: 1 }) }),
);

const promptGet = fc.oneof(
  fc.record({ name: fc.constant("greet"), arguments: fc.oneof(fc.record({ name: text, tone: fc.constantFrom("warm", "dry", "odd") }, { requiredKeys: [] }), fc.dictionary(fc.string(), json, { maxKeys: 2 })) }, { requiredKeys: ["name"] }),
  fc.record({ name: fc.constant("prompt_raise"), arguments: fc.record({ kind: fc.constantFrom("error", "protocol", "coded"), message: text, code: fc.constantFrom("-32042", "-32002", "7", "x") }) }),
  fc.record({ name: fc.constantFrom("plain", "prompt_scoped", "nope", "constructor"), arguments: fc.constantFrom(undefined, {}, { a: "b" }) }, { requiredKeys: ["name"] }),
);

const resourceRead = fc.record({
  uri: fc.constantFrom("test://static", "TEST://static", "test://static/", "test://scoped", "test://item/42", "test://item/a%20b", "test://missing", "not a uri", "", "test://raise/error", "test://raise/protocol", "test://raise/value"),
});

const call = fc.oneof(
  { weight: 6, arbitrary: toolCall.map((p) => request("tools/call", p)) },
  { weight: 3, arbitrary: promptGet.map((p) => request("prompts/get", p)) },
  { weight: 3, arbitrary: resourceRead.map((p) => request("resources/read", p)) },
  { weight: 2, arbitrary: fc.constantFrom("server/discover", "tools/list", "prompts/list", "resources/list", "resources/templates/list").map((m) => request(m)) },
  { weight: 1, arbitrary: fc.constantFrom("completion/complete", "initialize", "ping", "logging/setLevel", "no/such").map((m) => request(m)) },
);

type Bend = (spec: Spec) => Spec;
const meta = (spec: Spec) => (spec.params?._meta ?? {}) as Record<string, unknown>;
const withMeta = (spec: Spec, next: Record<string, unknown>): Spec => ({ ...spec, params: { ...spec.params, _meta: next } });
const without = <T>(object: Record<string, T>, key: string): Record<string, T> => Object.fromEntries(Object.entries(object).filter(([k]) => k !== key));

/** One way of bending a request, each something a step of the SDK's ladder looks at. */
const bend: fc.Arbitrary<Bend> = fc.oneof(
  fc.constantFrom<Bend>(
    (s) => withMeta(s, without(meta(s), PV)),
    (s) => withMeta(s, without(meta(s), CC)),
    (s) => withMeta(s, without(meta(s), CI)),
    (s) => withMeta(s, { ...meta(s), [PV]: "2025-11-25" }),
    (s) => withMeta(s, { ...meta(s), [PV]: "2026-07-29" }),
    (s) => withMeta(s, { ...meta(s), [PV]: 20260728 }),
    (s) => ({ ...s, params: without(s.params ?? {}, "_meta") }),
    (s) => ({ ...s, headers: without(s.headers, "mcp-method") }),
    (s) => ({ ...s, headers: without(s.headers, "mcp-name") }),
    (s) => ({ ...s, headers: without(s.headers, "mcp-protocol-version") }),
    (s) => ({ ...s, headers: { ...s.headers, "mcp-method": "tools/list" } }),
    (s) => ({ ...s, headers: { ...s.headers, "mcp-name": "other" } }),
    (s) => ({ ...s, headers: { ...s.headers, "mcp-name": "=?base64?!!!?=" } }),
    (s) => ({ ...s, headers: { ...s.headers, "mcp-protocol-version": "2025-11-25" } }),
    (s) => ({ ...s, headers: { ...s.headers, "content-type": "application/json; charset=utf-8" } }),
    (s) => ({ ...s, top: { extra: true } }),
    (s) => ({ ...s, top: { jsonrpc: "1.0" } }),
    (s) => ({ ...s, params: { ...s.params, cursor: "c" } }),
    (s) => ({ ...s, params: { ...s.params, requestState: "state" } }),
    (s) => ({ ...s, params: { ...s.params, inputResponses: { a: { action: "accept" } } } }),
    (s) => ({ ...s, raw: JSON.stringify([{ jsonrpc: "2.0", id: s.id, method: s.method, params: s.params }]) }),
  ),
  fc.oneof(fc.string(), fc.integer(), fc.constantFrom(0, -1, 1.5, 2 ** 53, null, undefined), json).map<Bend>((id) => (s) => ({ ...s, id })),
  fc
    .record({
      [CC]: fc.constantFrom({}, { elicitation: {} }, { elicitation: { url: {} } }, { sampling: {} }, { sampling: { tools: {} } }, { roots: {} }, { experimental: { x: {} } }, { elicitation: "yes" }, { tasks: {} }, null),
      [CI]: fc.constantFrom({ name: "n" }, { name: "n", version: "1", icons: [{ src: "x" }] }, { name: "n", version: "1", title: 5 }, "client"),
      [LL]: fc.constantFrom("debug", "loud"),
      progressToken: fc.constantFrom("p", 7, 1.5),
      "io.modelcontextprotocol/related-task": fc.constantFrom({ taskId: "t" }, { taskId: 1 }),
      "x.example/extra": json,
    }, { requiredKeys: [] })
    .map<Bend>((extra) => (s) => withMeta(s, { ...meta(s), ...extra })),
);

/** Calls with arguments right and wrong, and handlers that throw: clean requests. */
export const calls: fc.Arbitrary<Spec> = call;

/** The same calls bent once or twice at a step of the SDK's validation ladder (envelope, headers, ids, shape). */
export const bentCalls: fc.Arbitrary<Spec> = fc.tuple(call, fc.array(bend, { minLength: 1, maxLength: 2 })).map(([base, bends]) => bends.reduce((s, b) => b(s), base));

/** Clean calls whose handlers return a generated result, with the client capabilities input_required checks read. */
export const results: fc.Arbitrary<Spec> = fc.tuple(result, capabilities, fc.constantFrom("tools/call", "prompts/get", "resources/read")).map(([value, declared, method]) => {
  const meta = { "io.modelcontextprotocol/clientCapabilities": declared };
  if (method === "tools/call") return request(method, { name: "shape", arguments: { result: value }, _meta: meta });
  if (method === "prompts/get") return request(method, { name: "prompt_shape", arguments: { json: JSON.stringify(value) }, _meta: meta });
  return request(method, { uri: `test://shape/${encodeURIComponent(JSON.stringify(value))}`, _meta: meta });
});
