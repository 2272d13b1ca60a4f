/**
 * Collects tool, resource and prompt definitions and builds a fresh SDK
 * `McpServer` from them on demand (the SDK wants one instance per exchange
 * on the stateless path, and one per live session on the legacy path).
 */
import {
  CLIENT_CAPABILITIES_META_KEY,
  McpServer,
  ResourceTemplate,
  requireScopes,
  type AuthInfo,
  type ClientCapabilities,
  type ServerContext,
  type ServerOptions,
} from "@modelcontextprotocol/server";
import { z } from "zod";
import { hidingDatabaseErrors, type ReportError } from "./handler-errors.js";
import { declaredScopes, type McpContext, type PromptDefinition, type ResourceDefinition, type ToolDefinition } from "./define.js";
import { BASE_SCOPE } from "../oauth/policy.js";
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

/** The names a scope unlocks (a definition needing several scopes is listed under each). */
export interface ScopeUses {
  tools: string[];
  resources: string[];
  prompts: string[];
}
export type ScopeCatalog = ReadonlyMap<string, ScopeUses>;

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

/**
 * `declared` is what the session's server holds from `initialize` (2025; a rebuilt session replays the
 * stored one); a 2026-07-28 request carries its own in the envelope, which wins.
 */
export function contextFrom(sdk: ServerContext, declared?: ClientCapabilities): McpContext {
  const auth = sdk.http?.authInfo as GatehouseAuthInfo | undefined;
  if (!auth?.extra) throw new Error("MCP request without Gatehouse authentication");
  const progressToken = sdk.mcpReq._meta?.progressToken;
  return {
    user: { id: auth.extra.userId, email: auth.extra.email },
    client: { id: auth.clientId, name: auth.extra.clientName, capabilities: envelopeCapabilities(sdk) ?? declared ?? {} },
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

/** The client capabilities of a 2026-07-28 request's `_meta` envelope (the SDK lifts it into `mcpReq.envelope`). */
function envelopeCapabilities(sdk: ServerContext): ClientCapabilities | undefined {
  const envelope = sdk.mcpReq.envelope as Record<string, unknown> | undefined;
  return envelope?.[CLIENT_CAPABILITIES_META_KEY] as ClientCapabilities | undefined;
}

/**
 * The scopes a token needs to use a tool, resource or prompt: those it
 * declares, or `mcp` when it declares none. So `mcp` means "everything that
 * asks for no scope of its own", and a token granted only a tool's scope can
 * use only what that scope names — what the consent page said it would.
 */
export function requiredScopes(definition: { scopes?: readonly string[] }): readonly string[] {
  return definition.scopes && definition.scopes.length > 0 ? definition.scopes : [BASE_SCOPE];
}

/** MCP authorization step-up: a token without every required scope gets 403 insufficient_scope naming them all. */
function scopeChallenge(definition: { scopes?: readonly string[] }) {
  const [first, ...rest] = requiredScopes(definition);
  return { scopeChallenge: requireScopes(first!, ...rest) };
}

/** What one source (a gateway upstream) offers; replaced as a whole when it changes (`offer`). */
export interface Offered {
  tools: ToolDefinition[];
  resources: ResourceDefinition[];
  prompts: PromptDefinition[];
}

/** The registrations a built server holds for the offered definitions, so `sync` can replace them. */
interface Synced {
  version: number;
  handles: { remove(): void }[];
}

/** The first key two items share, if any. */
function twice<T>(items: T[], key: (item: T) => string): string | undefined {
  return items.map(key).find((k, i, keys) => keys.indexOf(k) !== i);
}

export class McpRegistry {
  private readonly base: Offered;
  private readonly offers = new Map<string, Offered>();
  private current: Offered;
  private readonly synced = new WeakMap<McpServer, Synced>();
  /** Bumped whenever an offer changes: servers and caches built for an older version are out of date. */
  version = 0;

  constructor(readonly options: RegistryOptions = {}) {
    this.base = {
      tools: [...(options.withoutBuiltins ? [] : [whoami as unknown as ToolDefinition]), ...(options.tools ?? [])],
      resources: options.resources ?? [],
      prompts: options.prompts ?? [],
    };
    this.current = this.base;
    const duplicate = twice(this.tools, (t) => t.name);
    if (duplicate) throw new Error(`two tools are named "${duplicate}"`);
  }

  get tools(): ToolDefinition[] {
    return this.current.tools;
  }

  get resources(): ResourceDefinition[] {
    return this.current.resources;
  }

  get prompts(): PromptDefinition[] {
    return this.current.prompts;
  }

  /**
   * Sets (or replaces) what `source` offers, after the definitions given at
   * construction, and bumps `version`. Refused, changing nothing, when a
   * tool or prompt name or a resource URI would then be offered twice.
   */
  offer(source: string, offered: Offered): void {
    const offers = new Map(this.offers).set(source, offered);
    const all = [this.base, ...offers.values()];
    const next: Offered = { tools: all.flatMap((o) => o.tools), resources: all.flatMap((o) => o.resources), prompts: all.flatMap((o) => o.prompts) };
    const duplicate = twice(next.tools, (t) => `tool "${t.name}"`) ?? twice(next.prompts, (p) => `prompt "${p.name}"`) ?? twice(next.resources, (r) => `resource "${r.uri}"`);
    if (duplicate) throw new Error(`the ${duplicate} would be offered twice`);
    this.offers.set(source, offered);
    this.current = next;
    this.version += 1;
  }

  /** Whether a server built here holds the current definitions (a server from elsewhere is taken as it is). */
  isCurrent(server: McpServer): boolean {
    const synced = this.synced.get(server);
    return !synced || synced.version === this.version;
  }

  /**
   * Brings a server built for an older version up to date in place: a live
   * 2025 session keeps its server (it is connected to the session's
   * transport), so the offered definitions it holds are removed and the
   * current ones registered. The SDK would announce each change on the
   * session's stream; it is kept quiet here, because the change event tells
   * listeners once, on every node (endpoint.ts).
   */
  sync(server: McpServer, report?: ReportError): void {
    const synced = this.synced.get(server);
    if (!synced || synced.version === this.version) return;
    const quiet = server as unknown as Record<"sendToolListChanged" | "sendResourceListChanged" | "sendPromptListChanged", () => void>;
    const methods = ["sendToolListChanged", "sendResourceListChanged", "sendPromptListChanged"] as const;
    for (const method of methods) quiet[method] = () => {};
    try {
      for (const handle of synced.handles) handle.remove();
      synced.handles = [];
      for (const offered of this.offers.values()) {
        // A kind the server had no handlers for when it was connected cannot be added to it (the SDK
        // refuses new capabilities after connecting): such a session sees it once it is rebuilt.
        try {
          synced.handles.push(...this.register(server, offered, report));
        } catch {
          /* the session keeps what it could register */
        }
      }
      synced.version = this.version;
    } finally {
      for (const method of methods) delete quiet[method];
    }
  }

  /** Scopes the definitions declare, for the authorization server's metadata. */
  scopes(): string[] {
    return declaredScopes([...this.tools, ...this.resources, ...this.prompts]);
  }

  /** What each scope makes possible, by name: the consent page lists exactly this. */
  catalog(): ScopeCatalog {
    const catalog = new Map<string, ScopeUses>();
    const add = (kind: keyof ScopeUses, definitions: { name: string; scopes?: readonly string[] }[]) => {
      for (const definition of definitions) {
        for (const scope of requiredScopes(definition)) {
          const uses = catalog.get(scope) ?? { tools: [], resources: [], prompts: [] };
          uses[kind].push(definition.name);
          catalog.set(scope, uses);
        }
      }
    };
    add("tools", this.tools);
    add("resources", this.resources);
    add("prompts", this.prompts);
    return catalog;
  }

  /** The server's identity, as the SDK stamps it on every 2026-07-28 result (`_meta` serverInfo). */
  serverInfo(): { name: string; version: string } {
    return { name: this.options.name ?? "gatehouse", version: this.options.version ?? "0.1.0" };
  }

  /** A fresh server; `report` hears the database errors its handlers threw (the client gets a generic error). */
  build(report?: ReportError): McpServer {
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
    this.register(server, this.base, report);
    const handles: { remove(): void }[] = [];
    for (const offered of this.offers.values()) handles.push(...this.register(server, offered, report));
    this.synced.set(server, { version: this.version, handles });
    this.options.configure?.(server);
    return server;
  }

  /** Registers definitions on a server; the handles remove them again. */
  private register(server: McpServer, offered: Offered, report?: ReportError): { remove(): void }[] {
    const handles: { remove(): void }[] = [];
    // The 2025 client's `initialize` capabilities, as this server holds them (deprecated accessor: the SDK's
    // handler context carries them only on 2026-07-28, where `contextFrom` reads the envelope instead).
    const context = (ctx: ServerContext) => contextFrom(ctx, server.server.getClientCapabilities());
    for (const tool of offered.tools) {
      handles.push(server.registerTool(
        tool.name,
        {
          description: tool.description,
          inputSchema: tool.inputSchema ?? tool.input ?? NO_INPUT,
          ...(tool.title ? { title: tool.title } : {}),
          ...(tool.annotations ? { annotations: tool.annotations } : {}),
          ...(tool.outputSchema ? { outputSchema: tool.outputSchema } : {}),
          ...(tool.icons ? { icons: tool.icons } : {}),
          ...(tool._meta ? { _meta: tool._meta } : {}),
          ...scopeChallenge(tool),
        },
        (args: Record<string, unknown>, ctx: ServerContext) => hidingDatabaseErrors(report, () => tool.handler(args as never, context(ctx))),
      ));
    }
    for (const resource of offered.resources) {
      const metadata = {
        ...(resource.title ? { title: resource.title } : {}),
        ...(resource.description ? { description: resource.description } : {}),
        ...(resource.mimeType ? { mimeType: resource.mimeType } : {}),
        ...scopeChallenge(resource),
      };
      if (resource.uri.includes("{")) {
        handles.push(server.registerResource(resource.name, new ResourceTemplate(resource.uri, { list: undefined }), metadata, (uri, variables, ctx) =>
          hidingDatabaseErrors(report, () => resource.read(uri, context(ctx), variables)),
        ));
      } else {
        handles.push(server.registerResource(resource.name, resource.uri, metadata, (uri, ctx) =>
          hidingDatabaseErrors(report, () => resource.read(uri, context(ctx), {})),
        ));
      }
    }
    for (const prompt of offered.prompts) {
      handles.push(server.registerPrompt(
        prompt.name,
        {
          description: prompt.description,
          ...(prompt.title ? { title: prompt.title } : {}),
          ...(prompt.args ? { argsSchema: prompt.args } : {}),
          ...scopeChallenge(prompt),
        },
        // Without an args schema the SDK calls back with the context alone.
        (prompt.args
          ? (args: Record<string, unknown>, ctx: ServerContext) => hidingDatabaseErrors(report, () => prompt.get(args as never, context(ctx)))
          : (ctx: ServerContext) => hidingDatabaseErrors(report, () => prompt.get({} as never, context(ctx)))) as never,
      ));
    }
    return handles;
  }
}
