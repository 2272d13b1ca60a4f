/**
 * What one upstream offers through Gatehouse, listed from the upstream: at
 * start-up (gateway.ts) and again when it says a list changed
 * (notifications.ts). `seen` holds each list as the upstream gave it, so a
 * refresh can tell which lists really changed.
 */
import type { Offered } from "../mcp/registry.js";
import { proxiedPrompts } from "./prompts.js";
import { proxiedResources } from "./resources.js";
import { proxiedTools } from "./tools.js";
import type { Upstream } from "./upstream.js";

export type ListKind = "tools" | "resources" | "prompts";

export interface Listed {
  offered: Offered;
  seen: Record<ListKind, string>;
}

export const NOTHING: Listed = { offered: { tools: [], resources: [], prompts: [] }, seen: { tools: "[]", resources: "[]", prompts: "[]" } };

export async function listOffered(upstream: Upstream): Promise<Listed> {
  const tools = await upstream.listTools();
  const resources = await upstream.listResources();
  const templates = await upstream.listResourceTemplates();
  const prompts = await upstream.listPrompts();
  return {
    offered: {
      tools: proxiedTools(upstream, tools),
      resources: proxiedResources(upstream, resources, templates),
      prompts: proxiedPrompts(upstream, prompts),
    },
    seen: { tools: JSON.stringify(tools), resources: JSON.stringify([resources, templates]), prompts: JSON.stringify(prompts) },
  };
}
