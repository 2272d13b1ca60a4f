/**
 * Tools, prompts and resources for comparing the lean 2026-07-28 dispatch with
 * the SDK path: each exercises one thing the two must agree on — argument
 * validation, whatever a handler returns (`shape` and friends return what the
 * request asks for, so generated requests explore result shapes), whatever
 * it throws, scopes, the context and `ctx.sdk`, input_required results.
 */
import { ProtocolError } from "@modelcontextprotocol/server";
import { z } from "zod";
import { definePrompt, defineResource, defineTool, type McpContext, type PromptDefinition, type ResourceDefinition, type ToolDefinition } from "../../src/index.js";

const text = (value: string) => ({ content: [{ type: "text" as const, text: value }] });

/** Throws what `error` describes: an Error, a ProtocolError (code, data), or the value itself. */
function raise(kind: string, error: unknown, code: unknown, data: unknown): never {
  if (kind === "error") throw new Error(String(error));
  if (kind === "protocol") throw new ProtocolError(code as number, String(error), data);
  if (kind === "coded") throw Object.assign(new Error(String(error)), { code, data });
  throw error;
}

/** What a handler sees of its context and of `ctx.sdk` (everything a tool might read). */
function probe(ctx: McpContext) {
  const { mcpReq, http } = ctx.sdk;
  return {
    user: ctx.user,
    client: ctx.client,
    scopes: ctx.scopes,
    connectionId: typeof ctx.connectionId,
    sessionId: ctx.sessionId ?? null,
    signal: { isAbortSignal: ctx.signal instanceof AbortSignal, aborted: ctx.signal.aborted, same: ctx.signal === mcpReq.signal },
    sdk: {
      sessionId: ctx.sdk.sessionId ?? null,
      id: mcpReq.id,
      method: mcpReq.method,
      meta: mcpReq._meta ?? null,
      envelope: mcpReq.envelope ?? null,
      inputResponses: mcpReq.inputResponses ?? null,
      requestState: mcpReq.requestState() ?? null,
      authClient: http?.authInfo?.clientId ?? null,
      request: http?.req instanceof Request,
      closeSSE: typeof http?.closeSSE,
    },
  };
}

async function errorText(action: () => unknown): Promise<string> {
  try {
    await action();
    return "no error";
  } catch (error) {
    const e = error as { name?: string; code?: unknown; message?: string; data?: unknown };
    return JSON.stringify({ name: e.name, code: e.code, message: e.message, data: e.data });
  }
}

export const leanTools = [
  defineTool({ name: "echo", description: "Echoes its text.", input: z.object({ text: z.string() }), handler: ({ text: t }) => text(t) }),
  defineTool({ name: "bare", description: "Takes nothing.", handler: () => text("bare") }),
  defineTool({
    name: "strict",
    description: "Validates several kinds of argument.",
    input: z.object({ n: z.number().int().min(0), tag: z.enum(["a", "b"]), nested: z.object({ s: z.string().max(5) }).optional(), list: z.array(z.boolean()).optional() }),
    handler: (args) => ({ ...text("ok"), structuredContent: args }),
  }),
  defineTool({
    name: "shape",
    description: "Returns `result` as its result.",
    input: z.object({ result: z.unknown() }),
    handler: ({ result }) => result as never,
  }),
  defineTool({
    name: "raise",
    description: "Throws what it is told.",
    input: z.object({ kind: z.string(), error: z.unknown(), code: z.unknown().optional(), data: z.unknown().optional() }),
    handler: ({ kind, error, code, data }) => raise(kind, error, code, data),
  }),
  defineTool({
    name: "probe",
    description: "Reports its context.",
    handler: (_args, ctx) => {
      const seen = probe(ctx);
      return { ...text(JSON.stringify(seen)), structuredContent: seen };
    },
  }),
  defineTool({
    name: "push",
    description: "Tries the 2025 server-to-client requests and logging, and reports what happened.",
    handler: async (_args, ctx) => {
      const send = await errorText(() => ctx.sdk.mcpReq.send({ method: "sampling/createMessage", params: { messages: [], maxTokens: 1 } }));
      const roots = await errorText(() => ctx.sdk.mcpReq.send({ method: "roots/list" }));
      const elicit = await errorText(() => ctx.sdk.mcpReq.elicitInput({ mode: "form", message: "m", requestedSchema: { type: "object", properties: {} } }));
      const sample = await errorText(() => ctx.sdk.mcpReq.requestSampling({ messages: [], maxTokens: 1 }));
      const log = await errorText(() => ctx.sdk.mcpReq.log("info", "hello"));
      await ctx.progress(1, 2, "half");
      return text(JSON.stringify({ send, roots, elicit, sample, log }));
    },
  }),
  defineTool({ name: "scoped", description: "Needs files:write.", scopes: ["files:write"], handler: () => text("scoped") }),
  defineTool({ name: "two_scopes", description: "Needs mcp and files:read.", scopes: ["mcp", "files:read"], handler: () => text("two") }),
  defineTool({
    name: "announce",
    description: "Sends a notification mid-call (so it is served by the SDK).",
    sdkDispatch: true,
    handler: async (_args, ctx) => {
      await ctx.sdk.mcpReq.notify({ method: "notifications/message", params: { level: "info", data: "mid-call" } });
      return text("announced");
    },
  }),
  defineTool({
    name: "announce_undeclared",
    description: "Sends a notification mid-call without declaring sdkDispatch.",
    handler: async (_args, ctx) => {
      await ctx.sdk.mcpReq.notify({ method: "notifications/message", params: { level: "info", data: "mid-call" } });
      return text("announced");
    },
  }),
] as unknown as ToolDefinition[];

export const leanPrompts = [
  definePrompt({
    name: "greet",
    description: "Greets by name.",
    args: z.object({ name: z.string().min(2), tone: z.enum(["warm", "dry"]).optional() }),
    get: ({ name, tone }) => ({ messages: [{ role: "user", content: { type: "text", text: `Hello ${name}${tone ? ` (${tone})` : ""}` } }] }),
  }),
  definePrompt({ name: "plain", description: "No arguments.", get: () => ({ description: "plain", messages: [] }) }),
  definePrompt({
    name: "prompt_shape",
    description: "Returns the JSON in `json` as its result.",
    args: z.object({ json: z.string() }),
    get: ({ json }) => JSON.parse(json) as never,
  }),
  definePrompt({
    name: "prompt_raise",
    description: "Throws what it is told.",
    args: z.object({ kind: z.string(), message: z.string(), code: z.string().optional() }),
    get: ({ kind, message, code }) => raise(kind, message, code === undefined ? undefined : Number(code), undefined),
  }),
  definePrompt({ name: "prompt_scoped", description: "Needs files:read.", scopes: ["files:read"], get: () => ({ messages: [] }) }),
] as unknown as PromptDefinition[];

export const leanResources: ResourceDefinition[] = [
  defineResource({ name: "static", uri: "test://static", mimeType: "text/plain", read: (uri) => ({ contents: [{ uri: uri.href, text: "static" }] }) }),
  defineResource({
    name: "item",
    uri: "test://item/{id}",
    read: (uri, _ctx, variables) => ({ contents: [{ uri: uri.href, text: `item ${String(variables.id)}` }] }),
  }),
  defineResource({
    name: "resource_shape",
    uri: "test://shape/{json}",
    read: (_uri, _ctx, variables) => JSON.parse(decodeURIComponent(String(variables.json))) as never,
  }),
  defineResource({
    name: "resource_raise",
    uri: "test://raise/{kind}",
    read: (_uri, _ctx, variables) => raise(String(variables.kind), "resource failed", -32_002, { why: "asked" }),
  }),
  defineResource({ name: "resource_scoped", uri: "test://scoped", scopes: ["files:read"], read: (uri) => ({ contents: [{ uri: uri.href, text: "s" }] }) }),
];
