/**
 * The embedder's API: tools, resources and prompts are plain definitions;
 * the registry collects them and builds a fresh SDK server per use. Handlers
 * receive `McpContext` — who is calling, with what grant — never the token.
 */
import type {
  CallToolResult,
  ClientCapabilities,
  GetPromptResult,
  Icon,
  InputRequiredResult,
  ReadResourceResult,
  ServerContext,
  StandardSchemaWithJSON,
  ToolAnnotations,
  Variables,
} from "@modelcontextprotocol/server";
import type { z } from "zod";

export interface McpContext {
  user: { id: string; email: string };
  /**
   * The OAuth client, and the MCP capabilities the calling client declared: on a 2025 session those of its
   * `initialize` (kept with the session, so the same on every node), on 2026-07-28 those of the request's
   * `_meta` envelope; `{}` when it declared none. MCP: a server must not send a request for a capability the
   * client did not declare — check here before asking through `sdk`.
   */
  client: { id: string; name: string | null; capabilities: ClientCapabilities };
  /** The scopes granted to the access token of this request. */
  scopes: readonly string[];
  connectionId: string;
  /** The legacy (2025) session, when the request belongs to one. */
  sessionId: string | undefined;
  /** Aborted when the client cancels or the connection is revoked. */
  signal: AbortSignal;
  /** Reports progress, when the caller asked for it (a no-op otherwise). */
  progress(progress: number, total?: number, message?: string): Promise<void>;
  /**
   * The SDK's own context, for sampling, elicitation and other protocol features. Built only when a
   * handler reads it. On the lean 2026-07-28 path it is a view of the request with the same values the
   * SDK gives (ids, `_meta`, envelope, signal, auth, `log`, which sends nothing without a `_meta` log
   * level); what would write to the wire during the call needs `sdkDispatch: true` (README "Lean dispatch").
   */
  readonly sdk: ServerContext;
}

/** How a tool, resource or prompt is served on 2026-07-28. */
export interface Dispatched {
  /**
   * Serve this definition's 2026-07-28 requests through the SDK instead of the lean dispatch. Needed only
   * when the handler sends protocol messages during the call through `ctx.sdk` (`mcpReq.notify`, or
   * `mcpReq.send` of a custom method); reading `ctx.sdk` works on both paths.
   */
  sdkDispatch?: boolean;
}

type Awaitable<T> = T | Promise<T>;

export interface ToolDefinition<Input extends z.ZodObject = z.ZodObject> extends Dispatched {
  name: string;
  title?: string;
  description: string;
  input?: Input;
  /**
   * An input schema that is not zod — a proxied upstream tool's JSON Schema
   * (gateway mode), or any Standard Schema with JSON Schema. Used instead of `input`.
   */
  inputSchema?: StandardSchemaWithJSON<Record<string, unknown>>;
  /** Scopes the access token must carry; a token without them gets 403 insufficient_scope naming all of them. */
  scopes?: readonly string[];
  annotations?: ToolAnnotations;
  /** The JSON Schema of `structuredContent`, as a Standard Schema (a proxied tool's is passed through as is). */
  outputSchema?: StandardSchemaWithJSON<Record<string, unknown>>;
  icons?: Icon[];
  _meta?: Record<string, unknown>;
  handler(args: z.infer<Input>, ctx: McpContext): Awaitable<CallToolResult | InputRequiredResult>;
}

export interface ResourceDefinition extends Dispatched {
  name: string;
  /** A fixed URI (`test://static`) or a URI template (`test://item/{id}`). */
  uri: string;
  title?: string;
  description?: string;
  mimeType?: string;
  scopes?: readonly string[];
  read(uri: URL, ctx: McpContext, variables: Variables): Awaitable<ReadResourceResult>;
}

export interface PromptDefinition<Args extends z.ZodObject = z.ZodObject> extends Dispatched {
  name: string;
  title?: string;
  description: string;
  args?: Args;
  scopes?: readonly string[];
  get(args: z.infer<Args>, ctx: McpContext): Awaitable<GetPromptResult>;
}

export function defineTool<Input extends z.ZodObject>(definition: ToolDefinition<Input>): ToolDefinition<Input> {
  return definition;
}

export function defineResource(definition: ResourceDefinition): ResourceDefinition {
  return definition;
}

export function definePrompt<Args extends z.ZodObject>(definition: PromptDefinition<Args>): PromptDefinition<Args> {
  return definition;
}

/** Every scope any definition declares: the authorization server offers these beside `mcp`. */
export function declaredScopes(definitions: { scopes?: readonly string[] }[]): string[] {
  return [...new Set(definitions.flatMap((d) => d.scopes ?? []))];
}
