/**
 * What the SDK does to a `tools/call` handler's value before it is encoded
 * (SDK 2.4): McpServer's text fallback for a non-object `structuredContent`
 * (SEP-2106), then Server's content-less normalization and its validation
 * against the 2026-07-28 dispatch result schema. That validation is also a
 * rewrite — unknown keys of a content block are dropped, known ones come back
 * in schema order — so it is done here with a copy of the same zod schema
 * (core-internal wire/rev2026-07-28/buildSchemas.ts, `dispatchResultSchemas
 * ['tools/call']` and what it is built from), compiled once. Same schema, same
 * zod: same output and the same error text.
 */
import { ProtocolError, ProtocolErrorCode, SERVER_INFO_META_KEY, type CallToolResult } from "@modelcontextprotocol/server";
import { z } from "zod";
import { isPlainObject, type Json } from "./request.js";

const IconSchema = z.object({
  src: z.string(),
  mimeType: z.string().optional(),
  sizes: z.array(z.string()).optional(),
  theme: z.enum(["light", "dark"]).optional(),
});
const IconsSchema = z.object({ icons: z.array(IconSchema).optional() });
const BaseMetadataSchema = z.object({ name: z.string(), title: z.string().optional() });
const ImplementationSchema = BaseMetadataSchema.extend({
  ...BaseMetadataSchema.shape,
  ...IconsSchema.shape,
  version: z.string(),
  websiteUrl: z.string().optional(),
  description: z.string().optional(),
});

const RoleSchema = z.enum(["user", "assistant"]);
const Base64Schema = z.string().refine(
  (val) => {
    try {
      atob(val);
      return true;
    } catch {
      return false;
    }
  },
  { message: "Invalid Base64 string" },
);
const AnnotationsSchema = z.object({
  audience: z.array(RoleSchema).optional(),
  priority: z.number().min(0).max(1).optional(),
  lastModified: z.iso.datetime({ offset: true }).optional(),
});
const BlockMetaSchema = z.record(z.string(), z.unknown()).optional();

const ResourceContentsSchema = z.object({ uri: z.string(), mimeType: z.optional(z.string()), _meta: BlockMetaSchema });
const TextResourceContentsSchema = ResourceContentsSchema.extend({ text: z.string() });
const BlobResourceContentsSchema = ResourceContentsSchema.extend({ blob: Base64Schema });
const ResourceSchema = z.object({
  ...BaseMetadataSchema.shape,
  ...IconsSchema.shape,
  uri: z.string(),
  description: z.optional(z.string()),
  mimeType: z.optional(z.string()),
  size: z.optional(z.number()),
  annotations: AnnotationsSchema.optional(),
  _meta: z.optional(z.looseObject({})),
});

const ContentBlockSchema = z.union([
  z.object({ type: z.literal("text"), text: z.string(), annotations: AnnotationsSchema.optional(), _meta: BlockMetaSchema }),
  z.object({ type: z.literal("image"), data: Base64Schema, mimeType: z.string(), annotations: AnnotationsSchema.optional(), _meta: BlockMetaSchema }),
  z.object({ type: z.literal("audio"), data: Base64Schema, mimeType: z.string(), annotations: AnnotationsSchema.optional(), _meta: BlockMetaSchema }),
  ResourceSchema.extend({ type: z.literal("resource_link") }),
  z.object({
    type: z.literal("resource"),
    resource: z.union([TextResourceContentsSchema, BlobResourceContentsSchema]),
    annotations: AnnotationsSchema.optional(),
    _meta: BlockMetaSchema,
  }),
]);

const ResultMetaSchema = z.looseObject({ [SERVER_INFO_META_KEY]: ImplementationSchema.optional().catch(undefined) });

const CallToolResultSchema = z.looseObject({
  _meta: ResultMetaSchema.optional(),
  content: z.array(ContentBlockSchema),
  structuredContent: z.unknown().optional(),
  isError: z.boolean().optional(),
});

/** Result-family keys that never default into `content: []` (the SDK's TOOL_RESULT_FOREIGN_FAMILY_KEYS). */
const FOREIGN_FAMILY_KEYS = ["task", "inputRequests", "requestState"];

/** McpServer's `projectCallToolResult` on 2026-07-28: a non-object `structuredContent` gains its JSON as text, unless text is there. */
export function withTextFallback(result: CallToolResult): CallToolResult {
  const sc = result.structuredContent;
  if (sc === undefined) return result;
  const isNonObjectValue = typeof sc !== "object" || sc === null || Array.isArray(sc);
  if (!isNonObjectValue) return result;
  const hasTextContent = result.content?.some((c) => c.type === "text") ?? false;
  if (hasTextContent) return result;
  return { ...result, content: [...(result.content ?? []), { type: "text" as const, text: JSON.stringify(sc) }] };
}

/** Server's tools/call result check: the validated (rewritten) result, or the -32602 it throws. */
export function validatedToolResult(result: unknown): Json {
  const normalized =
    isPlainObject(result) && result.content === undefined && !FOREIGN_FAMILY_KEYS.some((key) => key in result) ? { ...result, content: [] } : result;
  const parsed = CallToolResultSchema.safeParse(normalized);
  if (!parsed.success) throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Invalid tools/call result: ${String(parsed.error)}`);
  return parsed.data as Json;
}

/** A tool error as McpServer returns it for anything its handler throws. */
export function toolError(message: string): CallToolResult {
  return { content: [{ type: "text", text: message }], isError: true };
}
