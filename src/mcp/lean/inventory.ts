/**
 * What the lean dispatch serves, decided once from the registry and from one
 * SDK server built the way every request's server is (so what `configure`
 * adds or changes is seen): the definitions' tools, prompts and resources as
 * the SDK has them registered and enabled, minus those that need the SDK —
 * `sdkDispatch: true`, a tool whose input schema declares `x-mcp-header`
 * (SEP-2243 `Mcp-Param-*` checks), methods with a configured cache hint — and
 * the list methods whose answer is the same for every request.
 * Everything else (including what `configure` registers) goes to the SDK.
 *
 * The SDK keeps its registrations in private fields; if they ever move, the
 * inventory is empty and every request takes the SDK path.
 */
import { UriTemplate, type McpServer } from "@modelcontextprotocol/server";
import type { PromptDefinition, ResourceDefinition, ToolDefinition } from "../define.js";
import type { McpRegistry } from "../registry.js";
import { LIST_METHODS } from "./request.js";

export interface LeanTemplate {
  template: UriTemplate;
  definition: ResourceDefinition;
  /** Matched first but served by the SDK (sdkDispatch, or disabled there): the SDK answers the read. */
  viaSdk: boolean;
}

export interface LeanInventory {
  tools: Map<string, ToolDefinition>;
  prompts: Map<string, PromptDefinition>;
  /** Fixed-URI resources by their URI as registered (the SDK looks them up by the request's normalized URL). */
  resources: Map<string, ResourceDefinition>;
  templates: LeanTemplate[];
  /** Fixed URIs the SDK server has beyond the definitions: those reads go to the SDK. */
  foreignResources: Set<string>;
  /** List methods answered from the SDK's first answer. */
  lists: Set<string>;
}

interface Registered {
  enabled?: unknown;
  resourceTemplate?: { listCallback?: unknown };
}

type Registrations = Record<string, Registered>;

/** The SDK server's registrations (McpServer private fields, SDK 2.4). */
function registrationsOf(server: McpServer) {
  const fields = server as unknown as Record<string, Registrations | undefined>;
  const tools = fields._registeredTools;
  const resources = fields._registeredResources;
  const templates = fields._registeredResourceTemplates;
  const prompts = fields._registeredPrompts;
  if (!tools || !resources || !templates || !prompts) return undefined;
  return { tools, resources, templates, prompts };
}

const enabled = (entry: Registered | undefined) => entry !== undefined && entry.enabled === true;

export function leanInventory(registry: McpRegistry): LeanInventory {
  const inventory: LeanInventory = { tools: new Map(), prompts: new Map(), resources: new Map(), templates: [], foreignResources: new Set(), lists: new Set() };
  let server: McpServer;
  try {
    server = registry.build();
  } catch {
    // A registry that cannot build (a throwing `configure`) fails on the SDK path, per request, as before.
    return inventory;
  }
  const registered = registrationsOf(server);
  if (!registered) return inventory;
  const cacheHints = (registry.options.serverOptions?.cacheHints ?? {}) as Record<string, unknown>;

  for (const tool of registry.tools) {
    if (tool.sdkDispatch || !enabled(registered.tools[tool.name])) continue;
    const schema = server.toolInputSchemaJson(tool.name);
    if (schema === undefined || JSON.stringify(schema).includes('"x-mcp-header"')) continue;
    inventory.tools.set(tool.name, tool);
  }
  if (cacheHints["prompts/get"] === undefined) {
    for (const prompt of registry.prompts) {
      if (!prompt.sdkDispatch && enabled(registered.prompts[prompt.name])) inventory.prompts.set(prompt.name, prompt);
    }
  }
  // The SDK reads a URI from the first match: fixed URIs, then templates in registration order (definitions first).
  for (const resource of cacheHints["resources/read"] === undefined ? registry.resources : []) {
    const viaSdk = resource.sdkDispatch === true;
    if (!resource.uri.includes("{")) {
      if (!viaSdk && enabled(registered.resources[resource.uri])) inventory.resources.set(resource.uri, resource);
    } else {
      inventory.templates.push({ template: new UriTemplate(resource.uri), definition: resource, viaSdk: viaSdk || !enabled(registered.templates[resource.name]) });
    }
  }
  for (const uri of Object.keys(registered.resources)) if (!inventory.resources.has(uri)) inventory.foreignResources.add(uri);

  // resources/list runs template list callbacks with the caller's context: not the same for everyone.
  const listsPerCaller = Object.values(registered.templates).some((t) => t.resourceTemplate?.listCallback !== undefined);
  for (const method of LIST_METHODS) if (!(method === "resources/list" && listsPerCaller)) inventory.lists.add(method);
  return inventory;
}
