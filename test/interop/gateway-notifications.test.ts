/**
 * What the gateway relays besides answers (issue 12 "Proxying"), seen by the
 * official clients: a stdio upstream (test/fixtures/upstream-stdio.ts) and a
 * Streamable HTTP one (test/fixtures/upstream-http.ts) behind a real
 * Gatehouse, each client signing in with its SDK's own OAuth client provider
 * (401, discovery, DCR, consent with PKCE approved by "the browser" — plain
 * HTTP with the user's session cookie —, code exchange):
 *
 * - `@modelcontextprotocol/client` 2.x on 2026-07-28 (a `subscriptions/listen`
 *   stream) and on 2025-11-25 (a session and its GET stream);
 * - `@modelcontextprotocol/sdk` 1.x on 2025-11-25.
 *
 * Each lists and calls tools of both upstreams, gets the stdio upstream's
 * progress, gets the HTTP upstream's log messages at or above its own log
 * level, and — after the stdio upstream added a tool — is sent
 * `notifications/tools/list_changed` and finds the new tool in its next
 * `tools/list` (lean learned lists, pooled SDK servers and live 2025
 * sessions alike). Disconnect on /user then ends its access: 401.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { randomBytes } from "node:crypto";
import { Client as ModernClient, StreamableHTTPClientTransport as ModernTransport, UnauthorizedError as ModernUnauthorizedError, type OAuthClientProvider as ModernOAuthClientProvider } from "@modelcontextprotocol/client";
import { UnauthorizedError as LegacyUnauthorizedError, type OAuthClientProvider as LegacyOAuthClientProvider } from "@modelcontextprotocol/sdk/client/auth.js";
import { Client as LegacyClient } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport as LegacyTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { LoggingMessageNotificationSchema, ToolListChangedNotificationSchema } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startHttpUpstream, type HttpUpstream } from "../fixtures/upstream-http.js";
import { api, pageAt, rowOf, submit } from "../helpers/console.js";
import { drivers } from "../helpers/databases.js";
import { consentAt, formFields, type CookieJar } from "../helpers/oauth.js";
import { addSignedInUser, deferred, pollUntil, type TestUser } from "../helpers/mcp-fixtures.js";
import { startTestServer, type TestServer } from "../helpers/server.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const STDIO_FIXTURE = path.join(ROOT, "test/fixtures/upstream-stdio.ts");
const LOG_LEVEL_META_KEY = "io.modelcontextprotocol/logLevel";

function writeConfig(http: HttpUpstream): string {
  const file = path.join(mkdtempSync(path.join(tmpdir(), "gatehouse-relay-")), "gatehouse.config.json");
  writeFileSync(file, JSON.stringify({ upstreams: [
    { name: "local", command: process.execPath, args: ["--import", "tsx", STDIO_FIXTURE], env: { GATEWAY_FIXTURE_RELAY: "1" }, cwd: ROOT, timeoutMs: 5000 },
    // No scopes of its own: the SDKs sign in with the scope the 401 names (`mcp`); step-up is gateway.test.ts's.
    { name: "remote", url: http.url },
  ] }));
  return file;
}

interface ToolResult {
  content?: { type: string; text?: string }[];
  isError?: boolean;
}

type Level = "debug" | "info" | "warning" | "error";

/** What each client library does, in the same words. */
interface Caller {
  version(): string | undefined;
  listTools(): Promise<string[]>;
  callTool(name: string, args?: Record<string, unknown>, onProgress?: (progress: number, total?: number) => void): Promise<ToolResult>;
  /** The client's log level: `logging/setLevel` on 2025, the request's `_meta` log level on 2026-07-28. */
  setLogLevel(level: Level): Promise<void>;
  /** Resolves once the client listens for change notifications (its listen or GET stream is open). */
  listening(): Promise<void>;
  logs: { level: string; data: unknown }[];
  listChanged: { count: number };
  close(): Promise<void>;
}

/**
 * An in-memory OAuth client provider that fits both SDKs' interfaces: the SDK
 * registers (DCR), and "the browser" approves consent as the signed-in user.
 */
class BrowserProvider {
  client: { client_id: string } | undefined;
  saved: { access_token: string } | undefined;
  callback: URL | undefined;
  private verifier: string | undefined;
  private discovery: unknown;
  readonly redirectUrl = "http://127.0.0.1:9102/callback";

  constructor(private readonly jar: CookieJar, private readonly name: string) {}

  get clientMetadata() {
    return {
      client_name: this.name,
      redirect_uris: [this.redirectUrl],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
    };
  }
  state() {
    return randomBytes(16).toString("base64url");
  }
  clientInformation() {
    return this.client;
  }
  saveClientInformation(info: { client_id: string }) {
    this.client = info;
  }
  tokens() {
    return this.saved;
  }
  saveTokens(tokens: { access_token: string }) {
    this.saved = tokens;
  }
  async redirectToAuthorization(url: URL) {
    this.callback = await consentAt(url, this.jar, "approve");
  }
  saveCodeVerifier(verifier: string) {
    this.verifier = verifier;
  }
  codeVerifier() {
    if (!this.verifier) throw new Error("no code verifier saved");
    return this.verifier;
  }
  saveDiscoveryState(state: unknown) {
    this.discovery = state;
  }
  discoveryState() {
    return this.discovery;
  }
}

/** The SDKs' documented first sign-in: connect stops for authorization, the code is redeemed, then connect again. */
async function signInWith<T extends { finishAuth(callback: never): Promise<void> }>(
  connect: (transport: T) => Promise<void>,
  transport: () => T,
  provider: BrowserProvider,
  isUnauthorized: (error: unknown) => boolean,
  callbackOf: (callback: URL) => unknown,
): Promise<T> {
  const first = transport();
  const error = await connect(first).then(() => new Error("connect() succeeded without authorization"), (e: unknown) => e);
  if (!isUnauthorized(error)) throw error;
  expect(provider.callback?.searchParams.get("code"), provider.callback?.href).toBeTruthy();
  await first.finishAuth(callbackOf(provider.callback!) as never);
  const second = transport();
  await connect(second);
  return second;
}

const text = (result: ToolResult) => result.content?.find((c) => c.type === "text")?.text ?? "";

/** The transport's fetch, telling when a GET stream was opened (the 2025 clients open it by themselves). */
function watchingFetch(opened: () => void): typeof fetch {
  return async (url, init) => {
    const response = await fetch(url, init);
    if ((init?.method ?? "GET") === "GET" && response.status === 200) opened();
    return response;
  };
}

async function modernCaller(mcpUrl: URL, provider: BrowserProvider, pin: boolean): Promise<Caller> {
  const client = new ModernClient({ name: "relay-2x", version: "1.0.0" }, pin ? { versionNegotiation: { mode: { pin: "2026-07-28" } } } : {});
  const getOpened = deferred();
  const logs: Caller["logs"] = [];
  const listChanged = { count: 0 };
  client.setNotificationHandler("notifications/message", (n) => void logs.push({ level: n.params.level, data: n.params.data }));
  client.setNotificationHandler("notifications/tools/list_changed", () => void (listChanged.count += 1));
  const transport = await signInWith(
    (t) => client.connect(t),
    () => new ModernTransport(mcpUrl, { authProvider: provider as unknown as ModernOAuthClientProvider, fetch: watchingFetch(getOpened.resolve) }),
    provider,
    (e) => e instanceof ModernUnauthorizedError,
    // The whole callback query: the SDK checks `iss` (RFC 9207) before redeeming the code.
    (callback) => callback.searchParams,
  );
  let level: Level | undefined;
  return {
    version: () => transport.protocolVersion,
    listTools: async () => (await client.listTools()).tools.map((t) => t.name),
    callTool: async (name, args = {}, onProgress) =>
      (await client.callTool(
        { name, arguments: args, ...(pin && level ? { _meta: { [LOG_LEVEL_META_KEY]: level } } : {}) },
        onProgress ? { onprogress: (p) => onProgress(p.progress, p.total) } : {},
      )) as ToolResult,
    setLogLevel: async (l) => {
      if (pin) level = l;
      else await client.setLoggingLevel(l);
    },
    listening: async () => {
      if (pin) await client.listen({ toolsListChanged: true });
      else await getOpened.promise;
    },
    logs,
    listChanged,
    close: () => client.close(),
  };
}

async function legacyCaller(mcpUrl: URL, provider: BrowserProvider): Promise<Caller> {
  const client = new LegacyClient({ name: "relay-1x", version: "1.0.0" });
  const getOpened = deferred();
  const logs: Caller["logs"] = [];
  const listChanged = { count: 0 };
  client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void logs.push({ level: n.params.level, data: n.params.data }));
  client.setNotificationHandler(ToolListChangedNotificationSchema, () => void (listChanged.count += 1));
  const transport = await signInWith(
    (t) => client.connect(t),
    () => new LegacyTransport(mcpUrl, { authProvider: provider as unknown as LegacyOAuthClientProvider, fetch: watchingFetch(getOpened.resolve) }),
    provider,
    (e) => e instanceof LegacyUnauthorizedError,
    (callback) => callback.searchParams.get("code"),
  );
  return {
    version: () => transport.protocolVersion,
    listTools: async () => (await client.listTools()).tools.map((t) => t.name),
    callTool: async (name, args = {}, onProgress) =>
      (await client.callTool({ name, arguments: args }, undefined, onProgress ? { onprogress: (p) => onProgress(p.progress, p.total) } : {})) as ToolResult,
    setLogLevel: async (l) => void (await client.setLoggingLevel(l)),
    listening: () => getOpened.promise,
    logs,
    listChanged,
    close: () => client.close(),
  };
}

/** Disconnect on /user, as the user does it: the connection's row, its form, its CSRF token. */
async function disconnect(base: string, user: TestUser, clientId: string): Promise<void> {
  const listed = await api(base, "/tokens", { cookie: user.jar });
  const connection = (listed.json as { tokens: { id: string; kind: string; client?: { id: string } }[] }).tokens.find(
    (t) => t.kind === "mcp" && t.client?.id === clientId,
  );
  expect(connection, listed.text).toBeDefined();
  const row = rowOf((await pageAt(base, "/user", user.jar)).html, connection!.id);
  expect(row).not.toBeNull();
  const action = `/user/tokens/${connection!.id}/delete`;
  const response = await submit(base, action, user.jar, formFields(row!, action));
  expect(response.status).toBe(303);
}

for (const driver of drivers()) {
  describe(`gateway relays list changes, progress and logs to the official SDK clients (${driver})`, () => {
    let http: HttpUpstream;
    let server: TestServer;
    let mcpUrl: URL;
    let alice: TestUser;

    beforeAll(async () => {
      http = await startHttpUpstream({ relay: true });
      server = await startTestServer(driver, { config: { configFile: writeConfig(http) } });
      mcpUrl = new URL(`${server.base}/mcp`);
      alice = await addSignedInUser(server, "alice@example.com");
    }, 60_000);
    afterAll(async () => {
      await server?.close();
      await http?.close();
    });

    const clients: [string, string, (url: URL, provider: BrowserProvider) => Promise<Caller>][] = [
      ["@modelcontextprotocol/client 2.x", "2026-07-28", (url, p) => modernCaller(url, p, true)],
      ["@modelcontextprotocol/client 2.x", "2025-11-25", (url, p) => modernCaller(url, p, false)],
      ["@modelcontextprotocol/sdk 1.x", "2025-11-25", legacyCaller],
    ];

    it.each(clients)("%s on %s: both upstreams' tools, progress, logs at its level, list_changed, then 401 after Disconnect", async (_library, version, connect) => {
      const provider = new BrowserProvider(alice.jar, `relay ${version}`);
      const client = await connect(mcpUrl, provider);
      try {
        expect(client.version()).toBe(version);
        expect(await client.listTools()).toEqual(expect.arrayContaining(["local_echo", "local_slow", "local_grow", "remote_echo", "remote_chatty"]));
        expect(JSON.parse(text(await client.callTool("local_echo", { text: "hi" })))).toMatchObject({ echo: "hi" });
        expect(text(await client.callTool("remote_echo", { text: "hi" }))).toMatch(/^remote echo: hi \(for /);

        const progress: [number, number | undefined][] = [];
        const slow = await client.callTool("local_slow", { ms: 1 }, (p, total) => progress.push([p, total]));
        expect(JSON.parse(text(slow))).toEqual({ waited: 1 });
        expect(progress).toEqual([[1, 2]]);

        // The HTTP upstream's log messages reach this call's caller, filtered by the caller's level.
        await client.setLogLevel("warning");
        expect(text(await client.callTool("remote_chatty", { levels: ["debug", "info", "warning", "error"] }))).toBe("logged 4");
        expect(client.logs).toEqual([{ level: "warning", data: "remote says warning" }, { level: "error", data: "remote says error" }]);

        // The stdio upstream adds a tool and says so: every listener is told, and the next list has it.
        await client.listening();
        const seen = client.listChanged.count;
        const { added } = JSON.parse(text(await client.callTool("local_grow"))) as { added: string };
        expect(await pollUntil(async () => client.listChanged.count, (count) => count > seen, 10_000)).toBeGreaterThan(seen);
        expect(await client.listTools()).toContain(`local_${added}`);
        expect(JSON.parse(text(await client.callTool(`local_${added}`)))).toHaveProperty("grown");

        const access = provider.saved!.access_token;
        await disconnect(server.base, alice, provider.client!.client_id);
        const after = await fetch(mcpUrl, {
          method: "POST",
          headers: { authorization: `Bearer ${access}`, "content-type": "application/json", accept: "application/json, text/event-stream" },
          body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list", params: {} }),
        });
        expect(after.status).toBe(401);
        await expect(client.listTools()).rejects.toThrow();
      } finally {
        await client.close().catch(() => {});
      }
    }, 60_000);
  });
}
