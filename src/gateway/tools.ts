/**
 * An upstream's tools as Gatehouse tools: named `<prefix><name>`, guarded by
 * the upstream's `scopes` (so the registry's step-up applies as it does to
 * our own tools), filtered by allow/deny, and forwarded with the caller's
 * identity. Whatever goes wrong upstream — a JSON-RPC error, a crash, a
 * timeout — answers that one call with an `isError` result.
 */
import type { LoggingMessageNotification, StandardSchemaWithJSON, Tool } from "@modelcontextprotocol/server";
import type { McpContext, ToolDefinition } from "../mcp/define.js";
import { askCaller, type ClientRequest } from "./client-requests.js";
import { exposedName, toolAllowed } from "./config.js";
import type { CallerIdentity, Upstream } from "./upstream.js";

/**
 * The upstream's JSON Schema, advertised as is and not validated here: the
 * upstream validates its own input and answers in its own words, and a
 * second validator (the SDK's `fromJsonSchema` compiles with ajv) could
 * refuse a dialect or format the upstream accepts, or disagree with it.
 */
export function passThroughSchema(schema: Tool["inputSchema"]): StandardSchemaWithJSON<Record<string, unknown>> {
  return {
    "~standard": {
      version: 1,
      vendor: "gatehouse-gateway",
      jsonSchema: { input: () => schema, output: () => schema },
      validate: (value) => ({ value: (value ?? {}) as Record<string, unknown> }),
    },
  };
}

export function callerOf(ctx: McpContext): CallerIdentity {
  return { userId: ctx.user.id, email: ctx.user.email, scopes: ctx.scopes, clientId: ctx.client.id };
}

export function proxiedTool(upstream: Upstream, tool: Tool): ToolDefinition {
  const { config } = upstream;
  return {
    name: exposedName(config, tool.name),
    description: tool.description ?? "",
    ...(tool.title ? { title: tool.title } : {}),
    ...(tool.annotations ? { annotations: tool.annotations } : {}),
    ...(tool.outputSchema ? { outputSchema: passThroughSchema(tool.outputSchema as Tool["inputSchema"]) } : {}),
    ...(tool.icons ? { icons: tool.icons } : {}),
    ...(tool._meta ? { _meta: tool._meta } : {}),
    ...(config.scopes?.length ? { scopes: config.scopes } : {}),
    inputSchema: passThroughSchema(tool.inputSchema),
    async handler(args: Record<string, unknown>, ctx) {
      // Ask the upstream for progress only when our caller asked us.
      const wantsProgress = ctx.sdk.mcpReq._meta?.progressToken !== undefined;
      // Progress is relayed in order, and all of it before the result: the upstream's last notification
      // arrives just ahead of its answer, and once our answer is written a late notification is lost.
      let relayed: Promise<void> = Promise.resolve();
      const onProgress = (progress: number, total?: number, message?: string) => {
        relayed = relayed.then(() => ctx.progress(progress, total, message)).catch(() => {});
      };
      // Log messages go the same way, filtered by the caller's level as our own would be (SDK `mcpReq.log`).
      const onLog = (log: LoggingMessageNotification["params"]) => {
        relayed = relayed.then(() => ctx.sdk.mcpReq.log(log.level, log.data, log.logger)).catch(() => {});
      };
      try {
        const onRequest = (request: ClientRequest) => askCaller(ctx, request);
        const result = await upstream.callTool(tool.name, args, callerOf(ctx), { signal: ctx.signal, onLog, onRequest, ...(wantsProgress ? { onProgress } : {}) });
        await relayed;
        return result;
      } catch (error) {
        return { isError: true, content: [{ type: "text", text: `upstream ${upstream.name}: ${(error as Error).message}` }] };
      }
    },
  };
}

/** The tools an upstream exposes through Gatehouse, after allow/deny. */
export function proxiedTools(upstream: Upstream, tools: Tool[]): ToolDefinition[] {
  return tools.filter((tool) => toolAllowed(upstream.config, tool.name)).map((tool) => proxiedTool(upstream, tool));
}
