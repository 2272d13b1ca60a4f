/**
 * `tools/call`, `prompts/get` and `resources/read` for a definition, layered
 * as the SDK layers them (SDK 2.4): McpServer's handler (argument validation,
 * the call, for tools the catch-all that turns any throw into an `isError`
 * result), inside Server's seam (input_required checks, the -32042 steer,
 * tools/call result validation). Each returns the handler-level result the
 * SDK would hand its encoder, or throws what the SDK would answer as a
 * JSON-RPC error.
 */
import { hidingDatabaseErrors } from "../handler-errors.js";
import { ProtocolError, ProtocolErrorCode, type CallToolResult, type Variables } from "@modelcontextprotocol/server";
import { z } from "zod";
import type { McpContext, PromptDefinition, ResourceDefinition, ToolDefinition } from "../define.js";
import { checkInputRequired, isInputRequired, seamThrow } from "./input-required.js";
import type { Json } from "./request.js";
import { toolError, validatedToolResult, withTextFallback } from "./tool-result.js";

/** Tools without input are registered with an empty object schema (registry.ts), which the SDK validates `{}` against. */
const NO_INPUT = z.object({});

interface Issue {
  message: string;
  path?: readonly (PropertyKey | { key: PropertyKey })[] | undefined;
}

/** Any Standard Schema: zod, or a tool's `inputSchema`/`outputSchema` (a proxied tool's JSON Schema, passed through). */
interface StandardSchema {
  readonly "~standard": { validate(value: unknown): unknown };
}

/** Standard Schema validation with the SDK's issue text (`validateStandardSchema`): `path.to.key: message, …`. */
async function validate(schema: StandardSchema, data: unknown): Promise<{ value: unknown } | { error: string }> {
  const result = (await schema["~standard"].validate(data)) as { issues?: readonly Issue[] };
  if (result.issues && result.issues.length > 0) {
    const format = (issue: Issue) =>
      issue.path?.length ? `${issue.path.map((p) => String(typeof p === "object" ? p.key : p)).join(".")}: ${issue.message}` : issue.message;
    return { error: result.issues.map(format).join(", ") };
  }
  return { value: (result as { value: unknown }).value };
}

export async function callTool(tool: ToolDefinition, args: Json | undefined, ctx: McpContext, meta: Json): Promise<Json> {
  let result: unknown;
  try {
    result = await mcpServerCall(tool, args, ctx);
  } catch (thrown) {
    seamThrow(thrown);
  }
  if (isInputRequired(result)) {
    checkInputRequired("tools/call", result, meta);
    return result;
  }
  return validatedToolResult(result);
}

/** McpServer's tools/call handler: everything but a URL-elicitation error comes back as a tool error. */
async function mcpServerCall(tool: ToolDefinition, args: Json | undefined, ctx: McpContext): Promise<unknown> {
  try {
    // The schema the registry registers: `inputSchema` (any Standard Schema), else `input`, else none.
    const parsed = await validate(tool.inputSchema ?? tool.input ?? NO_INPUT, args ?? {});
    if ("error" in parsed) {
      throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Input validation error: Invalid arguments for tool ${tool.name}: ${parsed.error}`);
    }
    // The same guard the registry puts around SDK-served handlers: no database text reaches the client.
    const result: unknown = await hidingDatabaseErrors(undefined, () => tool.handler(parsed.value as never, ctx));
    if (tool.outputSchema) await validateOutput(tool, result, tool.outputSchema);
    if (isInputRequired(result)) return result;
    return withTextFallback(result as CallToolResult);
  } catch (error) {
    if (error instanceof ProtocolError && error.code === ProtocolErrorCode.UrlElicitationRequired) throw error;
    return toolError(error instanceof Error ? error.message : String(error));
  }
}

/**
 * McpServer's `validateToolOutput`, its checks in its order (a `null` result throws its TypeError here as
 * there, and becomes the same tool error).
 */
async function validateOutput(tool: ToolDefinition, result: unknown, schema: StandardSchema): Promise<void> {
  if (isInputRequired(result)) return;
  const value = result as CallToolResult;
  if (value.isError) return;
  if (value.structuredContent === undefined) {
    throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Output validation error: Tool ${tool.name} has an output schema but no structured content was provided`);
  }
  const parsed = await validate(schema, value.structuredContent);
  if ("error" in parsed) {
    throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Output validation error: Invalid structured content for tool ${tool.name}: ${parsed.error}`);
  }
}

export async function getPrompt(prompt: PromptDefinition, args: Json | undefined, ctx: McpContext, meta: Json): Promise<Json> {
  let result: unknown;
  try {
    if (prompt.args) {
      const parsed = await validate(prompt.args, args ?? {});
      if ("error" in parsed) throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Invalid arguments for prompt ${prompt.name}: ${parsed.error}`);
      result = await hidingDatabaseErrors(undefined, () => prompt.get(parsed.value as never, ctx));
    } else {
      result = await hidingDatabaseErrors(undefined, () => prompt.get({} as never, ctx));
    }
  } catch (thrown) {
    seamThrow(thrown);
  }
  if (isInputRequired(result)) checkInputRequired("prompts/get", result, meta);
  return result as Json;
}

export async function readResource(resource: ResourceDefinition, uri: URL, variables: Variables, ctx: McpContext, meta: Json): Promise<Json> {
  let result: unknown;
  try {
    result = await hidingDatabaseErrors(undefined, () => resource.read(uri, ctx, variables));
  } catch (thrown) {
    seamThrow(thrown);
  }
  if (isInputRequired(result)) checkInputRequired("resources/read", result, meta);
  return result as Json;
}
