/**
 * An upstream's prompts as Gatehouse prompts: named `<prefix><name>` like
 * tools, guarded by the upstream's `scopes`, filtered by the `prompts`
 * allow/deny lists. Prompt arguments are strings (MCP); each becomes a
 * string argument, required when the upstream requires it. Gets are
 * forwarded with the caller's identity and go through the SDK.
 */
import type { Prompt } from "@modelcontextprotocol/client";
import { z } from "zod";
import type { PromptDefinition } from "../mcp/define.js";
import { allowed, exposedName } from "./config.js";
import { callerOf } from "./tools.js";
import { upstreamFailure } from "./upstream-errors.js";
import type { Upstream } from "./upstream.js";

function argsOf(prompt: Prompt): z.ZodObject | undefined {
  if (!prompt.arguments?.length) return undefined;
  const shape: Record<string, z.ZodType> = {};
  for (const arg of prompt.arguments) {
    const value = arg.description ? z.string().describe(arg.description) : z.string();
    shape[arg.name] = arg.required ? value : value.optional();
  }
  return z.object(shape);
}

function proxiedPrompt(upstream: Upstream, prompt: Prompt): PromptDefinition {
  const { config } = upstream;
  const args = argsOf(prompt);
  return {
    name: exposedName(config, prompt.name),
    description: prompt.description ?? "",
    ...(prompt.title ? { title: prompt.title } : {}),
    ...(args ? { args } : {}),
    ...(config.scopes?.length ? { scopes: config.scopes } : {}),
    sdkDispatch: true,
    async get(values, ctx) {
      const strings = Object.fromEntries(Object.entries(values as Record<string, unknown>).filter(([, v]) => typeof v === "string")) as Record<string, string>;
      try {
        return await upstream.getPrompt(prompt.name, strings, callerOf(ctx), ctx.signal);
      } catch (error) {
        throw upstreamFailure(upstream.name, error);
      }
    },
  };
}

/** The prompts an upstream exposes through Gatehouse, after allow/deny. */
export function proxiedPrompts(upstream: Upstream, prompts: Prompt[]): PromptDefinition[] {
  return prompts.filter((p) => allowed(upstream.config.prompts, p.name)).map((p) => proxiedPrompt(upstream, p));
}
