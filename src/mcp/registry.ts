/**
 * Collects tool, resource and prompt definitions and builds a fresh SDK
 * `McpServer` from them on demand (the SDK wants one instance per exchange
 * on the stateless path, and one per live session on the legacy path).
 */
import {
  McpServer,
  ResourceTemplate,
  requireScopes,
  type AuthInfo,
  type ServerContext,
  type ServerOptions,
} from "@modelcontextprotocol/server";
import { z } from "zod";
import { declaredScopes, type McpContext, type PromptDefinition, type ResourceDefinition, type ToolDefinition } from "./define.js";
import { whoami } from "./tools/whoami.js";

/** One shared schema for tools without input, so the SDK's schema cache keeps hitting. */
const NO_INPUT = z.object({});

export interface McpIdentity {
  userId: string;
  email: string;
  clientName: string | null;
  connectionId: string;
}

/** What our bearer check hands the SDK; `extra` carries who is calling. */
export type GatehouseAuthInfo = AuthInfo & { extra: McpIdentity };

export interface RegistryOptions {
  name?: string;
  version?: string;
  instructions?: string;
  tools?: ToolDefinition[];
  resources?: ResourceDefinition[];
  prompts?: PromptDefinition[];
  /** Leave out the built-in `whoami` tool. */
  withoutBuiltins?: boolean;
  /** Extra SDK server options (capabilities, …). */
  serverOptions?: ServerOptions;
  /**
   * Last word on the built server, for what the definitions cannot express. It runs on every build, so it
   * must do the same each time. With lean dispatch on, what it adds is served by the SDK; it must not
   * change what the definitions declare (README "Lean dispatch").
   */
  configure?: (server: McpServer) => void;
  /**
   * Serve the simple 2026-07-28 requests with Gatehouse's lean dispatch (src/mcp/lean) instead of an SDK
   * server per request. Default true; false sends every request through the SDK (the reference path, for
   * comparing answers and for debugging).
   */
  leanDispatch?: boolean;
}

export function contextFrom(sdk: ServerContext): McpContext {
  const auth = sdk.http?.authInfo as GatehouseAuthInfo | undefined;
  if (!auth?.extra) throw new Error("MCP request without Gatehouse authentication");
  const progressToken = sdk.mcpReq._meta?.progressToken;
  return {
    user: { id: auth.extra.userId, email: auth.extra.email },
    client: { id: auth.clientId, name: auth.extra.clientName },
    scopes: auth.scopes,
    connectionId: auth.extra.connectionId,
    sessionId: sdk.sessionId,
    signal: sdk.mcpReq.signal,
    async progress(progress, total, message) {
      if (progressToken === undefined) return;
      await sdk.mcpReq.notify({
        method: "notifications/progress",
        params: { progressToken, progress, ...(total === undefined ? {} : { total }), ...(message ? { message } : {}) },
      });
    },
    sdk,
  };
}

/**
 * The scopes a token must hold to use a tool, resource or prompt (PRODUCT §6 "Tools": 403
 * insufficient_scope naming every scope needed). The one place this is decided: the SDK registration
 * below and the lean 2026-07-28 dispatch both ask here.
 */
export function requiredScopes(definition: { scopes?: readonly string[] }): string[] {
  return [...(definition.scopes ?? [])];
}

function scopeChallenge(definition: { scopes?: readonly string[] }) {
  const [first, ...rest] = requiredScopes(definition);
  return first === undefined ? {} : { scopeChallenge: requireScopes(first, ...rest) };
}

export class McpRegistry {
  readonly tools: ToolDefinition[];
  readonly resources: ResourceDefinition[];
  readonly prompts: PromptDefinition[];

  constructor(readonly options: RegistryOptions = {}) {
    this.tools = [...(options.withoutBuiltins ? [] : [whoami as unknown as ToolDefinition]), ...(options.tools ?? [])];
    this.resources = options.resources ?? [];
    this.prompts = options.prompts ?? [];
    const names = this.tools.map((t) => t.name);
    const duplicate = names.find((n, i) => names.indexOf(n) !== i);
    if (duplicate) throw new Error(`two tools are named "${duplicate}"`);
  }

  /** Scopes the definitions declare, for the authorization server's metadata. */
  scopes(): string[] {
    return declaredScopes([...this.tools, ...this.resources, ...this.prompts]);
  }

  /** The server's identity, as the SDK stamps it on every 2026-07-28 result (`_meta` serverInfo). */
  serverInfo(): { name: string; version: string } {
    return { name: this.options.name ?? "gatehouse", version: this.options.version ?? "0.1.0" };
  }

  build(): McpServer {
    const server = new McpServer(
      this.serverInfo(),
      {
        ...this.options.serverOptions,
        capabilities: {
          tools: { listChanged: true },
          ...(this.resources.length > 0 ? { resources: { subscribe: true, listChanged: true } } : {}),
          ...(this.prompts.length > 0 ? { prompts: { listChanged: true } } : {}),
          logging: {},
          ...this.options.serverOptions?.capabilities,
        },
        ...(this.options.instructions ? { instructions: this.options.instructions } : {}),
      },
    );
    for (const tool of this.tools) {
      server.registerTool(
        tool.name,
        {
          description: tool.description,
          inputSchema: tool.input ?? NO_INPUT,
          ...(tool.title ? { title: tool.title } : {}),
          ...(tool.annotations ? { annotations: tool.annotations } : {}),
          ...scopeChallenge(tool),
        },
        (args: Record<string, unknown>, ctx: ServerContext) => tool.handler(args as never, contextFrom(ctx)),
      );
    }
    for (const resource of this.resources) {
      const metadata = {
        ...(resource.title ? { title: resource.title } : {}),
        ...(resource.description ? { description: resource.description } : {}),
        ...(resource.mimeType ? { mimeType: resource.mimeType } : {}),
        ...scopeChallenge(resource),
      };
      if (resource.uri.includes("{")) {
        server.registerResource(resource.name, new ResourceTemplate(resource.uri, { list: undefined }), metadata, (uri, variables, ctx) =>
          resource.read(uri, contextFrom(ctx), variables),
        );
      } else {
        server.registerResource(resource.name, resource.uri, metadata, (uri, ctx) => resource.read(uri, contextFrom(ctx), {}));
      }
    }
    for (const prompt of this.prompts) {
      server.registerPrompt(
        prompt.name,
        {
          description: prompt.description,
          ...(prompt.title ? { title: prompt.title } : {}),
          ...(prompt.args ? { argsSchema: prompt.args } : {}),
          ...scopeChallenge(prompt),
        },
        // Without an args schema the SDK calls back with the context alone.
        (prompt.args
          ? (args: Record<string, unknown>, ctx: ServerContext) => prompt.get(args as never, contextFrom(ctx))
          : (ctx: ServerContext) => prompt.get({} as never, contextFrom(ctx))) as never,
      );
    }
    this.options.configure?.(server);
    return server;
  }
}
