/**
 * Raw MCP over HTTP for black-box tests: JSON-RPC posting for both protocol
 * generations, an SSE reader with deadlines, legacy session set-up, and
 * the user/connection plumbing most MCP suites need.
 */
import { readFile, rm } from "node:fs/promises";
import http from "node:http";
import path from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { expect, inject } from "vitest";
import { openDatabase, type Database } from "../../src/storage/db.js";
import type { TestDatabase } from "./databases.js";
import { freePort, startTestServer, type TestServer, type TestServerOptions } from "./server.js";
import { authorizeForCode, connect, registerClient, signIn, tokenRequest, type ClientRegistration, type CookieJar } from "./oauth.js";

export const LEGACY_VERSIONS = ["2025-11-25", "2025-06-18", "2025-03-26"] as const;
export type LegacyVersion = (typeof LEGACY_VERSIONS)[number];
export const MODERN_VERSION = "2026-07-28";

export type JsonRpcMessage = {
  jsonrpc: "2.0";
  id?: string | number | null;
  method?: string;
  params?: Record<string, unknown>;
  result?: Record<string, unknown>;
  error?: { code: number; message: string; data?: unknown };
};

/* ------------------------------------------------------------------ SSE */

export interface SseEvent {
  id?: string;
  event?: string;
  data: string;
  retry?: number;
}

/** The JSON-RPC message an SSE event carries, or null (priming events carry an id and empty data). */
export function messageOf(event: SseEvent): JsonRpcMessage | null {
  if (event.data.trim() === "") return null;
  return JSON.parse(event.data) as JsonRpcMessage;
}

/**
 * Reads a `text/event-stream` body event by event. Every wait has a
 * deadline; `ended` settles when the server ends the stream.
 */
export class SseReader {
  private readonly queue: SseEvent[] = [];
  private waiter: (() => void) | null = null;
  private done = false;
  private failure: unknown = null;
  private buffer = "";
  private readonly reader: ReadableStreamDefaultReader<Uint8Array>;
  /** Every event seen so far, in arrival order. */
  readonly seen: SseEvent[] = [];
  /** Resolves when the stream ends (by the server, or by `close()`), with the time it ended. */
  readonly ended: Promise<number>;

  constructor(readonly response: Response) {
    if (!response.body) throw new Error(`no body (status ${response.status})`);
    this.reader = response.body.getReader();
    this.ended = this.pump();
  }

  private async pump(): Promise<number> {
    const decoder = new TextDecoder();
    try {
      for (;;) {
        const { done, value } = await this.reader.read();
        if (done) break;
        this.buffer += decoder.decode(value, { stream: true });
        this.parse();
      }
    } catch (error) {
      this.failure = error;
    }
    this.done = true;
    this.wake();
    return Date.now();
  }

  private parse(): void {
    this.buffer = this.buffer.replace(/\r\n?/g, "\n");
    for (let end = this.buffer.indexOf("\n\n"); end >= 0; end = this.buffer.indexOf("\n\n")) {
      const block = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + 2);
      const event: SseEvent = { data: "" };
      const data: string[] = [];
      let fields = 0;
      for (const line of block.split("\n")) {
        if (line === "" || line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        const name = colon < 0 ? line : line.slice(0, colon);
        let value = colon < 0 ? "" : line.slice(colon + 1);
        if (value.startsWith(" ")) value = value.slice(1);
        fields++;
        if (name === "data") data.push(value);
        else if (name === "id") event.id = value;
        else if (name === "event") event.event = value;
        else if (name === "retry") event.retry = Number(value);
      }
      if (fields === 0) continue; // a comment-only block (keep-alive)
      event.data = data.join("\n");
      this.queue.push(event);
      this.seen.push(event);
    }
    this.wake();
  }

  private wake(): void {
    const waiter = this.waiter;
    this.waiter = null;
    waiter?.();
  }

  /** What ended the stream if it did not end cleanly (network error, reset, abort); null while open or after a clean end. */
  get error(): unknown {
    return this.failure;
  }

  /** True once the server has ended the stream and every event was taken. */
  get finished(): boolean {
    return this.done && this.queue.length === 0;
  }

  /** The next event; null when the stream ended first. Throws when none arrives within `timeoutMs`. */
  async next(timeoutMs = 5000): Promise<SseEvent | null> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const event = this.queue.shift();
      if (event) return event;
      if (this.done) {
        if (this.failure && !isAbort(this.failure)) throw this.failure;
        return null;
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no SSE event within ${timeoutMs} ms (seen ${this.seen.length})`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  /** The next event that carries a JSON-RPC message (priming events skipped); null at end of stream. */
  async nextMessage(timeoutMs = 5000): Promise<JsonRpcMessage | null> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const event = await this.next(Math.max(1, deadline - Date.now()));
      if (event === null) return null;
      const message = messageOf(event);
      if (message) return message;
    }
  }

  /** Events up to and including the first one `stop` accepts; throws at end of stream or deadline. */
  async until(stop: (event: SseEvent, message: JsonRpcMessage | null) => boolean, timeoutMs = 10_000): Promise<SseEvent[]> {
    const deadline = Date.now() + timeoutMs;
    const events: SseEvent[] = [];
    for (;;) {
      const event = await this.next(Math.max(1, deadline - Date.now()));
      if (event === null) throw new Error(`stream ended before the awaited event (after ${events.length} events)`);
      events.push(event);
      if (stop(event, messageOf(event))) return events;
    }
  }

  /** Every remaining event until the server ends the stream (throws past the deadline). */
  async rest(timeoutMs = 10_000): Promise<SseEvent[]> {
    const deadline = Date.now() + timeoutMs;
    const events: SseEvent[] = [];
    for (;;) {
      const event = await this.next(Math.max(1, deadline - Date.now()));
      if (event === null) return events;
      events.push(event);
    }
  }

  /** Whether the server ends the stream within `timeoutMs` (events still queued are left alone). */
  async endsWithin(timeoutMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    const result = await Promise.race([this.ended.then(() => true as const), timeout]);
    clearTimeout(timer);
    return result;
  }

  /** Events that arrive within `ms` (for "nothing else comes" checks). */
  async drain(ms: number): Promise<SseEvent[]> {
    const deadline = Date.now() + ms;
    const events: SseEvent[] = [];
    while (Date.now() < deadline) {
      try {
        const event = await this.next(Math.max(1, deadline - Date.now()));
        if (event === null) break;
        events.push(event);
      } catch {
        break;
      }
    }
    return events;
  }

  /** Disconnects (the client side going away). */
  async close(): Promise<void> {
    await this.reader.cancel().catch(() => {});
    await this.ended;
  }
}

function isAbort(error: unknown): boolean {
  return error instanceof Error && (error.name === "AbortError" || /abort|terminated|cancel/i.test(error.message));
}

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

/* ------------------------------------------------------ users and tokens */

export interface Grant {
  client: ClientRegistration;
  access: string;
  refresh: string;
  scope: string;
}

let clientCounter = 0;

/** A new, distinct public client (distinct metadata, so DCR never returns an existing one). */
export function newClient(base: string, label = "mcp-test", metadata: Record<string, unknown> = {}): Promise<ClientRegistration> {
  return registerClient(base, { client_name: `${label}-${process.pid}-${++clientCounter}`, ...metadata });
}

/** Authorization code flow for a signed-in user, optionally asking for `scope`. */
export async function grant(base: string, jar: CookieJar, client?: ClientRegistration, scope?: string): Promise<Grant> {
  const registered = client ?? (await newClient(base));
  if (scope === undefined) {
    const { tokens } = await connect(base, jar, registered);
    return { client: registered, access: tokens.access_token, refresh: tokens.refresh_token, scope: tokens.scope ?? "" };
  }
  const issued = await authorizeForCode(base, jar, registered, { scope });
  const tokens = await tokenRequest(base, {
    grant_type: "authorization_code",
    code: issued.code,
    code_verifier: issued.verifier,
    client_id: registered.client_id,
    redirect_uri: issued.redirectUri,
    resource: `${base}/mcp`,
  });
  if (tokens.status !== 200) throw new Error(`token: ${tokens.status} ${JSON.stringify(tokens.body)}`);
  return { client: registered, access: tokens.body.access_token!, refresh: tokens.body.refresh_token!, scope: tokens.body.scope ?? "" };
}

export interface TestUser {
  id: string;
  email: string;
  jar: CookieJar;
}

/** Creates an account and signs it in. */
export async function addSignedInUser(
  server: { base: string; addUser(email: string, password: string): Promise<{ id: string; email: string }> },
  email: string,
): Promise<TestUser> {
  const password = `${email} long password`;
  const user = await server.addUser(email, password);
  return { id: user.id, email: user.email, jar: await signIn(server.base, email, password) };
}

/* ------------------------------------------------------------- timing */

/** Polls `probe` until `done` accepts its value or the deadline passes; returns the last value. */
export async function pollUntil<T>(probe: () => Promise<T>, done: (value: T) => boolean, withinMs: number, everyMs = 25): Promise<T> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    const value = await probe();
    if (done(value) || Date.now() >= deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/** A promise with its resolve function outside (gates between a test and a tool it defined). */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/**
 * Resumes a stream with Last-Event-ID; a 409 (the server has not yet seen the old connection go) is
 * retried, as a client retries after `retry`.
 */
export async function resumeStream(base: string, token: string, session: Pick<LegacySession, "id" | "header">, lastEventId: string): Promise<Response> {
  let response: Response | null = null;
  await pollUntil(
    async () => {
      await response?.body?.cancel();
      response = await sessionGet(base, token, session, lastEventId);
      return response.status;
    },
    (status) => status !== 409,
    3000,
    50,
  );
  return response!;
}

/** A test tool's gate: the tool says when it started and waits until the test releases it. */
export interface Gate {
  started: Promise<void>;
  start: () => void;
  released: Promise<void>;
  release: () => void;
}

/** Gates by run name, for tools that look theirs up. */
export class Gates {
  private readonly gates = new Map<string, Gate>();
  open(run: string): Gate {
    const started = deferred();
    const released = deferred();
    const gate = { started: started.promise, start: () => started.resolve(), released: released.promise, release: () => released.resolve() };
    this.gates.set(run, gate);
    return gate;
  }
  get(run: string): Gate | undefined {
    return this.gates.get(run);
  }
}

/* ------------------------------------------------------ several nodes */

/**
 * A loopback "load balancer" in front of several nodes that share one
 * public URL: `<public>/node/<name>/…` goes to that node, anything else to
 * the node named "default". The Host header passes through unchanged, as
 * behind a real proxy, so every node sees the public host.
 */
export interface NodeRouter {
  /** The public URL (issuer) every node is configured with. */
  readonly publicUrl: string;
  /** The base URL that reaches one node: `${router.base("b")}/mcp`. */
  base(name: string): string;
  /** Points a name at a node's own URL (RunningServer.url); replaces any earlier target. */
  route(name: string, target: string): void;
  close(): Promise<void>;
}

export async function startNodeRouter(port: number): Promise<NodeRouter> {
  const targets = new Map<string, string>();
  const server = http.createServer((req, res) => {
    const match = /^\/node\/([A-Za-z0-9_-]+)(\/.*)?$/.exec(req.url ?? "/");
    const name = match ? match[1]! : "default";
    const path = match ? (match[2] ?? "/") : (req.url ?? "/");
    const target = targets.get(name);
    if (!target) {
      res.writeHead(502).end();
      return;
    }
    const url = new URL(target);
    const upstream = http.request(
      { host: url.hostname, port: url.port, method: req.method, path, headers: req.headers, agent: false },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        res.flushHeaders();
        answer.pipe(res);
        answer.on("error", () => res.destroy());
        answer.on("aborted", () => res.destroy());
      },
    );
    upstream.on("error", () => {
      if (!res.headersSent) res.writeHead(502).end();
      else res.destroy();
    });
    req.pipe(upstream);
    // The client went away: so does the upstream request (a disconnect reaches the node).
    res.on("close", () => {
      if (!res.writableFinished) upstream.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });
  const publicUrl = `http://127.0.0.1:${port}`;
  return {
    publicUrl,
    base: (name) => `${publicUrl}/node/${name}`,
    route: (name, target) => void targets.set(name, target),
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/**
 * Two (or more) nodes on one PostgreSQL database behind a NodeRouter, all
 * configured with the router's public URL. Node "a" owns the database.
 */
export interface Cluster {
  publicUrl: string;
  a: TestServer;
  b: TestServer;
  /** The base URL that reaches one node ("a", "b", or a name given to `start`). */
  base(name: string): string;
  /** Starts another node on the same database and routes `name` to it. */
  start(name: string): Promise<TestServer>;
  close(): Promise<void>;
}

export async function startCluster(options: Omit<TestServerOptions, "testDb"> = {}): Promise<Cluster> {
  const router = await startNodeRouter(await freePort());
  const config = { ...options.config, publicUrl: router.publicUrl };
  const a = await startTestServer("postgres", { ...options, config });
  router.route("default", a.running.url);
  router.route("a", a.running.url);
  const others: TestServer[] = [];
  const start = async (name: string) => {
    const node = await startTestServer("postgres", { ...options, config, testDb: a.testDb });
    others.push(node);
    router.route(name, node.running.url);
    return node;
  };
  const b = await start("b");
  return {
    publicUrl: router.publicUrl,
    a,
    b,
    base: (name) => router.base(name),
    start,
    async close() {
      await Promise.all(others.map((node) => node.close().catch(() => {})));
      await a.close();
      await router.close();
    },
  };
}

/**
 * A PGlite database in a data directory that outlives the server using it:
 * `startTestServer("pglite", { testDb })` opens it (each start reopens it, so
 * a stopped server can be followed by a new one on the same data).
 */
export function pgliteDataDir(dir: string): TestDatabase {
  let current: Database | null = null;
  let seeded = false;
  return {
    get database(): Database {
      if (!current) throw new Error("the data directory is not open");
      return current;
    },
    url: null,
    async openAnother() {
      if (!seeded) {
        // Start from the suite's migrated template: far faster than initdb and migrations in a fresh directory.
        const seed = new PGlite(path.join(dir, "pglite"), { loadDataDir: new Blob([await readFile(inject("pgliteTemplate"))]) });
        await seed.waitReady;
        await seed.close();
        seeded = true;
      }
      current = await openDatabase({ driver: "pglite", dataDir: dir });
      return current;
    },
    async cleanup() {
      await current?.close().catch(() => {});
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/* --------------------------------------------------------- challenges */

/** The attributes of a `WWW-Authenticate: Bearer k="v", …` challenge (lower-cased names); fails on bad syntax or repeats. */
export function bearerChallenge(header: string | null): Map<string, string> {
  expect(header, "WWW-Authenticate is present").toBeTruthy();
  const match = /^Bearer(?:\s+([\s\S]*))?$/i.exec(header!.trim());
  expect(match, `a Bearer challenge: ${header}`).not.toBeNull();
  const rest = match![1] ?? "";
  const params = new Map<string, string>();
  const attribute = /\s*([!#$%&'*+.^_`|~0-9A-Za-z-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([!#$%&'*+.^_`|~0-9A-Za-z-]+))\s*(?:,|$)/y;
  while (attribute.lastIndex < rest.length) {
    const start = attribute.lastIndex;
    const found = attribute.exec(rest);
    expect(found, `challenge attribute at "${rest.slice(start)}"`).not.toBeNull();
    const name = found![1]!.toLowerCase();
    expect(params.has(name), `${name} appears twice in ${header}`).toBe(false);
    params.set(name, found![2] !== undefined ? found![2].replace(/\\(.)/g, "$1") : found![3]!);
  }
  return params;
}
