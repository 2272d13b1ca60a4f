/**
 * One connection to an upstream MCP server, through the SDK's `Client`.
 *
 * Stdio: ONE process shared by every user. It starts on first use (listing
 * tools at start-up is the first use), is restarted with backoff when it
 * exits, and its whole process group is stopped on close. It cannot tell
 * users apart by connection, so each call carries the caller in
 * `_meta["gatehouse/user"]` (`{ id, email, scopes, clientId }`); a server that
 * must isolate users reads it from there. (A process per user is left for
 * later.)
 *
 * Streamable HTTP: one client per upstream, and the caller's identity goes
 * in configured headers on each call's POST. Every call is its own POST, and
 * the SDK puts a call's own request headers on it: the call's number goes in
 * a private header, and a wrapping `fetch` swaps it for that caller's
 * identity headers and token before the request leaves: the request says
 * whose it is, whatever async context the SDK sends it from. A client per
 * user would need a handshake, a session and an eviction policy per user
 * for the same effect. The caller's bearer token is never in reach here:
 * only static headers from the config, the identity headers and, if
 * configured, a signed identity token (identity-token.ts) are sent. The
 * requests go over node:http with kept-alive connections (http-fetch.ts).
 */
import { AsyncLocalStorage } from "node:async_hooks";
import {
  Client, ProtocolError, SdkError, SdkErrorCode, StreamableHTTPClientTransport,
  type CallToolResult, type FetchLike, type GetPromptResult, type LoggingMessageNotification, type Prompt, type ReadResourceResult, type Resource, type ResourceTemplateType, type Tool,
} from "@modelcontextprotocol/client";
import type { Clock } from "../clock.js";
import type { Logger } from "../logger.js";
import type { HttpUpstreamConfig, UpstreamConfig } from "./config.js";
import { nobodyToAsk, RELAYED_REQUESTS, type ClientRequest } from "./client-requests.js";
import type { CallerIdentity, IdentityTokenSigner } from "./identity-token.js";

export type { CallerIdentity };
import { keepAliveFetch, type KeepAliveFetch } from "./http-fetch.js";
import { GroupStdioTransport } from "./stdio.js";

export interface UpstreamHealth {
  name: string;
  transport: "stdio" | "http";
  /** `idle`: not started yet; `up`: connected; `down`: the last start or the connection failed. */
  status: "idle" | "starting" | "up" | "down";
  restarts: number;
}

export const IDENTITY_META_KEY = "gatehouse/user";
/** Names a call's requests for our fetch (which removes it): never sent upstream. */
const CALL_HEADER = "x-gatehouse-internal-call";

function identityMeta(caller: CallerIdentity) {
  return { [IDENTITY_META_KEY]: { id: caller.userId, email: caller.email, scopes: caller.scopes, clientId: caller.clientId } };
}
const DEFAULT_TIMEOUT_MS = 60_000;
/** Starting may take longer than a call: `npx -y` or `uvx` may download the server first. */
const START_TIMEOUT_MS = 120_000;
const MIN_BACKOFF_MS = 250;
const MAX_BACKOFF_MS = 30_000;
/** A process that stayed up this long was healthy: its next exit starts the backoff over. */
const STABLE_AFTER_MS = 10_000;

export interface CallOptions {
  signal: AbortSignal;
  onProgress?: (progress: number, total?: number, message?: string) => Promise<void> | void;
  /** The upstream's log messages that arrive on this call's own response stream (README "Gateway"). */
  onLog?: (params: LoggingMessageNotification["params"]) => void;
  /** The upstream's sampling and elicitation requests made on this call's own response stream (client-requests.ts). */
  onRequest?: (request: ClientRequest) => Promise<unknown>;
}

const LIST_CHANGED = ["notifications/tools/list_changed", "notifications/resources/list_changed", "notifications/prompts/list_changed"] as const;

export class Upstream {
  private connection: Promise<Client> | null = null;
  private transportPid: (() => number | undefined) | null = null;
  /**
   * The call whose request is being answered, for the upstream's log messages and sampling/elicitation
   * requests. Notifications carry no request id: an HTTP upstream's message read from a call's own POST
   * stream is handled in that call's async context, so it finds the call here; anything else (a stdio
   * server's output, the GET stream) is read in the connection's context, finds none, and reaches no caller.
   * (Identity does not ride on it: that travels in CALL_HEADER, below.)
   */
  private readonly calls = new AsyncLocalStorage<CallOptions>();
  /** Told when the upstream says a list changed, or a restarted server may offer other things (notifications.ts). */
  onListChanged: (() => void) | undefined;
  private wasUp = false;
  /** Calls in flight to an HTTP upstream, by the number their requests carry in CALL_HEADER. */
  private readonly callers = new Map<string, CallerIdentity>();
  private lastCall = 0;
  /** An HTTP upstream's connections, kept alive between calls. */
  private http: KeepAliveFetch | null = null;
  private state: UpstreamHealth["status"] = "idle";
  private restarts = 0;
  private backoffMs = 0;
  private notBefore = 0;
  private restartTimer: NodeJS.Timeout | undefined;
  private closed = false;
  /** Counts connections, so a late close event of an old one is ignored. */
  private generation = 0;

  constructor(
    readonly config: UpstreamConfig,
    private readonly logger: Logger,
    private readonly clock: Clock,
    /** Signs the identity token of an HTTP upstream with `identityToken` set. */
    private readonly tokens?: IdentityTokenSigner,
  ) {}

  get name(): string {
    return this.config.name;
  }

  /** The stdio child's pid while it runs (tests, diagnostics). */
  get pid(): number | undefined {
    return this.transportPid?.();
  }

  health(): UpstreamHealth {
    return {
      name: this.name,
      transport: this.config.kind,
      status: this.state,
      // No error text: /readyz is public, and an error names internal hosts and paths (the log has it).
      restarts: this.restarts,
    };
  }

  /** Every tool the upstream offers, following `nextCursor` to the end. */
  async listTools(): Promise<Tool[]> {
    const client = await this.client();
    const tools: Tool[] = [];
    let cursor: string | undefined;
    do {
      const page = await client.listTools(cursor ? { cursor } : {}, { timeout: this.timeoutMs });
      tools.push(...page.tools);
      cursor = page.nextCursor;
    } while (cursor);
    return tools;
  }

  async callTool(tool: string, args: Record<string, unknown> | undefined, caller: CallerIdentity, options: CallOptions): Promise<CallToolResult> {
    const client = await this.client();
    const meta = { [IDENTITY_META_KEY]: { id: caller.userId, email: caller.email, scopes: caller.scopes, clientId: caller.clientId } };
    const { onProgress } = options;
    try {
      const result = await this.calls.run(options, () => this.as(caller, (headers) =>
        client.callTool(
          { name: tool, ...(args ? { arguments: args } : {}), _meta: meta },
          {
            signal: options.signal,
            timeout: this.timeoutMs,
            ...(headers ? { headers } : {}),
            ...(onProgress ? { onprogress: (p) => void onProgress(p.progress, p.total, p.message), resetTimeoutOnProgress: true } : {}),
          },
        ),
      ));
      if (this.config.kind === "http") this.state = "up";
      return result as CallToolResult;
    } catch (error) {
      // An HTTP upstream has no process to watch: a request that got no answer at all is what says it is down
      // (not its own error answer, a slow tool's timeout, or our caller cancelling).
      const answered = error instanceof ProtocolError || (error instanceof SdkError && error.code === SdkErrorCode.RequestTimeout);
      if (this.config.kind === "http" && !answered && !options.signal.aborted) this.state = "down";
      throw error;
    }
  }

  /** Every resource, resource template and prompt the upstream offers (none when it declares no such capability). */
  async listResources(): Promise<Resource[]> {
    const client = await this.client();
    if (!client.getServerCapabilities()?.resources) return [];
    return this.allPages(async (cursor) => {
      const page = await client.listResources(cursor ? { cursor } : {}, { timeout: this.timeoutMs });
      return [page.resources, page.nextCursor];
    });
  }

  async listResourceTemplates(): Promise<ResourceTemplateType[]> {
    const client = await this.client();
    if (!client.getServerCapabilities()?.resources) return [];
    return this.allPages(async (cursor) => {
      const page = await client.listResourceTemplates(cursor ? { cursor } : {}, { timeout: this.timeoutMs });
      return [page.resourceTemplates, page.nextCursor];
    });
  }

  async listPrompts(): Promise<Prompt[]> {
    const client = await this.client();
    if (!client.getServerCapabilities()?.prompts) return [];
    return this.allPages(async (cursor) => {
      const page = await client.listPrompts(cursor ? { cursor } : {}, { timeout: this.timeoutMs });
      return [page.prompts, page.nextCursor];
    });
  }

  async readResource(uri: string, caller: CallerIdentity, signal: AbortSignal): Promise<ReadResourceResult> {
    const client = await this.client();
    return this.as(caller, (headers) => client.readResource({ uri, _meta: identityMeta(caller) }, { signal, timeout: this.timeoutMs, ...(headers ? { headers } : {}) }));
  }

  async getPrompt(name: string, args: Record<string, string>, caller: CallerIdentity, signal: AbortSignal): Promise<GetPromptResult> {
    const client = await this.client();
    return this.as(caller, (headers) =>
      client.getPrompt({ name, arguments: args, _meta: identityMeta(caller) }, { signal, timeout: this.timeoutMs, ...(headers ? { headers } : {}) }),
    );
  }

  /** Runs a call whose HTTP requests carry `caller` (identityFetch reads it back); stdio needs no headers. */
  private async as<T>(caller: CallerIdentity, run: (headers: Record<string, string> | undefined) => Promise<T>): Promise<T> {
    if (this.config.kind !== "http") return run(undefined);
    const id = String(++this.lastCall);
    this.callers.set(id, caller);
    try {
      return await run({ [CALL_HEADER]: id });
    } finally {
      this.callers.delete(id);
    }
  }

  private async allPages<T>(page: (cursor: string | undefined) => Promise<[T[], string | undefined]>): Promise<T[]> {
    const items: T[] = [];
    let cursor: string | undefined;
    do {
      const [listed, next] = await page(cursor);
      items.push(...listed);
      cursor = next;
    } while (cursor);
    return items;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.generation += 1;
    clearTimeout(this.restartTimer);
    const connection = this.connection;
    this.connection = null;
    const client = await connection?.catch(() => null);
    await client?.close().catch(() => {});
    this.http?.close();
  }

  private get timeoutMs(): number {
    return this.config.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  /** The connected client, starting (or waiting out the backoff and restarting) it when there is none. */
  private client(): Promise<Client> {
    if (this.closed) return Promise.reject(new Error(`upstream ${this.name} is closed`));
    // Started outside any call: the connection (its GET stream, its handlers) outlives the call that needed it.
    this.connection ??= this.calls.exit(() => this.connect());
    return this.connection;
  }

  private async connect(): Promise<Client> {
    const wait = this.notBefore - this.clock.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    if (this.closed) throw new Error(`upstream ${this.name} is closed`);
    this.state = "starting";
    const startedAt = this.clock.now();
    const generation = ++this.generation;
    let connected = false;
    // Sampling and elicitation are offered to every upstream; each request is put to the calling client, which decides.
    const client = new Client({ name: "gatehouse-gateway", version: "0.1.0" }, { capabilities: { sampling: {}, elicitation: { form: {} } } });
    client.onerror = (error) => this.logger.warn("upstream error", { upstream: this.name, error: error.message });
    // Outside the call whose stream carried it: the refresh's own requests (and what the upstream says during
    // them) belong to no caller.
    for (const method of LIST_CHANGED) client.setNotificationHandler(method, () => this.calls.exit(() => this.onListChanged?.()));
    client.setNotificationHandler("notifications/message", (notification) => {
      const call = this.calls.getStore();
      if (call?.onLog) call.onLog(notification.params);
      else this.logger.debug("upstream log", { upstream: this.name, level: notification.params.level });
    });
    for (const method of RELAYED_REQUESTS) {
      client.setRequestHandler(method, (request) => {
        const call = this.calls.getStore();
        if (!call?.onRequest) throw nobodyToAsk(method);
        return call.onRequest(request as ClientRequest) as never;
      });
    }
    client.onclose = () => {
      // Only the end of the current, established connection counts: a failed start is handled below, a close we asked for by close().
      if (!connected || generation !== this.generation) return;
      this.connection = null;
      this.ended(startedAt, "the connection closed", true);
    };
    try {
      await client.connect(this.transport(), { timeout: Math.max(this.timeoutMs, START_TIMEOUT_MS) });
    } catch (error) {
      this.connection = null;
      await client.close().catch(() => {});
      this.ended(startedAt, (error as Error).message, false);
      throw new Error(`upstream ${this.name} did not start: ${(error as Error).message}`, { cause: error });
    }
    connected = true;
    this.state = "up";
    // A restarted server may offer other tools than the one that exited.
    if (this.wasUp) setImmediate(() => this.onListChanged?.());
    this.wasUp = true;
    this.logger.info("upstream connected", { upstream: this.name, ...(this.pid ? { pid: this.pid } : {}) });
    return client;
  }

  /**
   * The connection is gone or never came: back off before the next start. A
   * stdio server that was up and exited is restarted by itself; one that
   * failed to start is tried again by the next call.
   */
  private ended(startedAt: number, reason: string, wasUp: boolean): void {
    if (this.closed) return;
    this.state = "down";
    this.backoffMs = this.clock.now() - startedAt >= STABLE_AFTER_MS ? 0 : Math.min(MAX_BACKOFF_MS, Math.max(MIN_BACKOFF_MS, this.backoffMs * 2));
    this.notBefore = this.clock.now() + this.backoffMs;
    this.logger.warn("upstream down", { upstream: this.name, reason, retryInMs: this.backoffMs });
    if (this.config.kind !== "stdio" || !wasUp) return;
    this.restarts += 1;
    clearTimeout(this.restartTimer);
    this.restartTimer = setTimeout(() => {
      this.client().catch((error: unknown) => this.logger.warn("upstream restart failed", { upstream: this.name, error: (error as Error).message }));
    }, this.backoffMs);
    this.restartTimer.unref();
  }

  private transport() {
    const config = this.config;
    if (config.kind === "stdio") {
      const transport = new GroupStdioTransport({
        command: config.command,
        args: config.args,
        env: config.env,
        ...(config.cwd ? { cwd: config.cwd } : {}),
        onStderrLine: (line) => this.logger.info("upstream stderr", { upstream: this.name, line }),
      });
      this.transportPid = () => transport.pid;
      return transport;
    }
    this.transportPid = null;
    return new StreamableHTTPClientTransport(new URL(config.url), { fetch: this.identityFetch(config) });
  }

  /** Static headers, then this call's identity headers and token; nothing from the caller's own request. */
  private identityFetch(config: HttpUpstreamConfig): FetchLike {
    const names = config.identityHeaders;
    const identityNames = Object.values(names).filter((name): name is string => name !== undefined);
    const http = (this.http ??= keepAliveFetch());
    return async (url, init) => {
      // A copy: the SDK sends the same init again to follow a redirect, and that request must still say whose it is.
      const headers = new Headers(init?.headers);
      const id = headers.get(CALL_HEADER);
      headers.delete(CALL_HEADER);
      for (const name in config.headers) headers.set(name, config.headers[name]!);
      for (const name of identityNames) headers.delete(name);
      const caller = id === null ? undefined : this.callers.get(id);
      if (caller) {
        if (names.userId) headers.set(names.userId, caller.userId);
        if (names.email) headers.set(names.email, caller.email);
        if (names.scopes) headers.set(names.scopes, caller.scopes.join(" "));
        if (names.clientId) headers.set(names.clientId, caller.clientId);
      }
      const token = await this.tokens?.header(config, caller);
      if (token) headers.set(token[0], token[1]);
      return http.fetch(url, { ...init, headers });
    };
  }
}
