/**
 * The MCP conformance suite's "everything server", built only with
 * Gatehouse's public API: every tool, resource, resource template and
 * prompt that the server scenarios of `@modelcontextprotocol/conformance`
 * (pinned at 0.2.0-alpha.12) call, for the session-based 2025 revisions and
 * for the stateless 2026-07-28 revision alike.
 *
 * Use it two ways:
 *   - in tests: `startTestServer(driver, { gatehouse: buildConformanceGatehouse({ notifier }) })`;
 *   - standalone: `npx tsx examples/conformance-server.ts` serves it on PORT
 *     (8787) with the usual configuration variables. /mcp still wants a
 *     bearer token, and the suite sends none, so run the suite through a
 *     proxy that adds one (see test/interop/conformance-server.test.ts).
 *
 * How the protocol generations are served by one set of handlers:
 *   - logging: `ctx.sdk.mcpReq.log` — filtered by `logging/setLevel` on a 2025
 *     session, and by the per-request `_meta` log level on 2026-07-28 (no level,
 *     no log messages);
 *   - progress: `ctx.progress`, which answers the caller's progress token;
 *   - 2025 sampling and elicitation: `ctx.sdk.mcpReq.send(...)`, which keeps the
 *     server-to-client request on the calling request's SSE stream;
 *   - 2026-07-28 multi-round-trip input: `inputRequired(...)` results (on a 2025
 *     session the SDK's legacy shim turns them into real server-to-client
 *     requests), with `requestState` sealed by the SDK's HMAC codec and bound
 *     to the method, client and user.
 */
import { randomBytes } from "node:crypto";
import { pathToFileURL } from "node:url";
import {
  CLIENT_CAPABILITIES_META_KEY,
  acceptedContent,
  completable,
  createRequestStateCodec,
  fromJsonSchema,
  inputRequired,
  inputResponse,
  type CallToolResult,
  type ClientCapabilities,
  type ElicitRequestFormParams,
  type GetPromptResult,
  type InputRequest,
  type InputRequests,
  type McpServer,
  type ServerContext,
} from "@modelcontextprotocol/server";
import { z } from "zod";
import {
  definePrompt,
  defineResource,
  defineTool,
  loadConfig,
  startServer,
  type GatehouseOptions,
  type McpContext,
  type Notifier,
  type PromptDefinition,
  type ResourceDefinition,
  type ToolDefinition,
} from "../src/index.js";

/** A 1×1 red PNG pixel. */
export const TEST_IMAGE_BASE64 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==";
/** A minimal WAV file. */
export const TEST_AUDIO_BASE64 = "UklGRiYAAABXQVZFZm10IBAAAAABAAEAQB8AAAB9AAACABAAZGF0YQIAAAA=";

/**
 * SEP-1613 / SEP-2106: the raw JSON Schema 2020-12 that `json_schema_2020_12_tool`
 * must list verbatim (`$schema`, `$defs` with an `$anchor`, `additionalProperties`,
 * `allOf`/`anyOf`, `if`/`then`/`else`), as the suite's fixture defines it.
 */
export const JSON_SCHEMA_2020_12_INPUT_SCHEMA = {
  $schema: "https://json-schema.org/draft/2020-12/schema",
  type: "object" as const,
  $defs: {
    address: {
      $anchor: "addressDef",
      type: "object",
      properties: { street: { type: "string" }, city: { type: "string" } },
    },
  },
  properties: {
    name: { type: "string" },
    address: { $ref: "#/$defs/address" },
    contactMethod: { type: "string", enum: ["phone", "email"] },
    phone: { type: "string" },
    email: { type: "string" },
  },
  allOf: [{ anyOf: [{ required: ["phone"] }, { required: ["email"] }] }],
  if: { properties: { contactMethod: { const: "phone" } }, required: ["contactMethod"] },
  then: { required: ["phone"] },
  else: { required: ["email"] },
  additionalProperties: false,
};

export interface ConformanceOptions {
  /**
   * The running Gatehouse's notifier, read when a trigger tool runs (the
   * Gatehouse does not exist yet when the definitions are built). Without it
   * the `test_trigger_*_change` tools report that they cannot notify.
   */
  notifier?: () => Notifier | undefined;
  /**
   * HMAC key for multi-round-trip `requestState` (at least 32 bytes). Every
   * node that may receive a retried request needs the same key; the default
   * is a random key, good for one process.
   */
  requestStateKey?: string | Uint8Array;
}

export type ConformanceGatehouse = Required<Pick<GatehouseOptions, "tools" | "resources" | "prompts" | "server">>;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

const text = (value: string): CallToolResult => ({ content: [{ type: "text", text: value }] });

const errorText = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** The form-mode elicitation schemas of the SEP-1034 and SEP-1330 scenarios, exactly as the suite checks them. */
const SEP1034_SCHEMA: ElicitRequestFormParams["requestedSchema"] = {
  type: "object",
  properties: {
    name: { type: "string", description: "User name", default: "John Doe" },
    age: { type: "integer", description: "User age", default: 30 },
    score: { type: "number", description: "User score", default: 95.5 },
    status: { type: "string", description: "User status", enum: ["active", "inactive", "pending"], default: "active" },
    verified: { type: "boolean", description: "Verification status", default: true },
  },
  required: [],
};

const SEP1330_SCHEMA: ElicitRequestFormParams["requestedSchema"] = {
  type: "object",
  properties: {
    untitledSingle: { type: "string", description: "Select one option", enum: ["option1", "option2", "option3"] },
    titledSingle: {
      type: "string",
      description: "Select one option with titles",
      oneOf: [
        { const: "value1", title: "First Option" },
        { const: "value2", title: "Second Option" },
        { const: "value3", title: "Third Option" },
      ],
    },
    legacyEnum: {
      type: "string",
      description: "Select one option (legacy)",
      enum: ["opt1", "opt2", "opt3"],
      enumNames: ["Option One", "Option Two", "Option Three"],
    },
    untitledMulti: {
      type: "array",
      description: "Select multiple options",
      minItems: 1,
      maxItems: 3,
      items: { type: "string", enum: ["option1", "option2", "option3"] },
    },
    titledMulti: {
      type: "array",
      description: "Select multiple options with titles",
      minItems: 1,
      maxItems: 3,
      items: {
        anyOf: [
          { const: "value1", title: "First Choice" },
          { const: "value2", title: "Second Choice" },
          { const: "value3", title: "Third Choice" },
        ],
      },
    },
  },
};

/** A 2025 form elicitation sent on the calling request's stream; the tool reports what came back. */
async function elicitOnStream(ctx: McpContext, message: string, requestedSchema: ElicitRequestFormParams["requestedSchema"], label: string) {
  try {
    const result = await ctx.sdk.mcpReq.send({ method: "elicitation/create", params: { mode: "form", message, requestedSchema } });
    return text(`${label}: action=${result.action}, content=${JSON.stringify(result.content ?? {})}`);
  } catch (error) {
    return text(`Elicitation not supported or error: ${errorText(error)}`);
  }
}

/** Embedded requests of the multi-round-trip tools. */
const askName = (message = "What is your name?"): InputRequest =>
  inputRequired.elicit({
    message,
    requestedSchema: { type: "object", properties: { name: { type: "string" } }, required: ["name"] },
  });
const askConfirm = (message = "Please confirm"): InputRequest =>
  inputRequired.elicit({
    message,
    requestedSchema: { type: "object", properties: { ok: { type: "boolean" } }, required: ["ok"] },
  });
const askSampling = (prompt: string): InputRequest =>
  inputRequired.createMessage({ messages: [{ role: "user", content: { type: "text", text: prompt } }], maxTokens: 100 });

const nameSchema = z.object({ name: z.string() });
const okSchema = z.object({ ok: z.boolean() });

/** The text of a sampling response for `key`, if the retried request carries one. */
function sampledText(ctx: ServerContext, key: string): string | undefined {
  const view = inputResponse(ctx.mcpReq.inputResponses, key);
  if (view.kind !== "sampling") return undefined;
  const content = view.result.content;
  const first = Array.isArray(content) ? content[0] : content;
  return first?.type === "text" ? first.text : "";
}

/** The roots of a `roots/list` response for `key`, if the retried request carries one. */
function rootsOf(ctx: ServerContext, key: string): { uri: string }[] | undefined {
  const view = inputResponse(ctx.mcpReq.inputResponses, key);
  return view.kind === "roots" ? view.roots : undefined;
}

export function buildConformanceGatehouse(options: ConformanceOptions = {}): ConformanceGatehouse {
  const codec = createRequestStateCodec<Record<string, unknown>>({
    key: options.requestStateKey ?? randomBytes(32),
    ttlSeconds: 600,
    // A state minted for one method, client and user is refused for any other.
    bind: (ctx) => {
      const auth = ctx.http?.authInfo;
      const userId = (auth?.extra as { userId?: string } | undefined)?.userId ?? "";
      return `${ctx.mcpReq.method}\0${auth?.clientId ?? ""}\0${userId}`;
    },
  });

  const notifyChange = async (ctx: McpContext, kind: "tools" | "prompts") => {
    const notifier = options.notifier?.();
    if (!notifier) return { ...text("No notifier is wired to this server"), isError: true };
    if (kind === "tools") await notifier.toolsChanged(ctx.user.id);
    else await notifier.promptsChanged(ctx.user.id);
    return text(`${kind} list change announced`);
  };

  const logThreeSteps = async (ctx: McpContext): Promise<CallToolResult> => {
    await ctx.sdk.mcpReq.log("info", "Tool execution started");
    await sleep(50);
    await ctx.sdk.mcpReq.log("info", "Tool processing data");
    await sleep(50);
    await ctx.sdk.mcpReq.log("info", "Tool execution completed");
    return text("Tool with logging executed successfully");
  };

  const tools = [
    defineTool({
      name: "test_simple_text",
      description: "Tests simple text content response",
      handler: () => text("This is a simple text response for testing."),
    }),
    defineTool({
      name: "test_image_content",
      description: "Tests image content response",
      handler: () => ({ content: [{ type: "image", data: TEST_IMAGE_BASE64, mimeType: "image/png" }] }),
    }),
    defineTool({
      name: "test_audio_content",
      description: "Tests audio content response",
      handler: () => ({ content: [{ type: "audio", data: TEST_AUDIO_BASE64, mimeType: "audio/wav" }] }),
    }),
    defineTool({
      name: "test_embedded_resource",
      description: "Tests embedded resource content response",
      handler: () => ({
        content: [
          {
            type: "resource",
            resource: { uri: "test://embedded-resource", mimeType: "text/plain", text: "This is an embedded resource content." },
          },
        ],
      }),
    }),
    defineTool({
      name: "test_multiple_content_types",
      description: "Tests response with multiple content types (text, image, resource)",
      handler: () => ({
        content: [
          { type: "text", text: "Multiple content types test:" },
          { type: "image", data: TEST_IMAGE_BASE64, mimeType: "image/png" },
          {
            type: "resource",
            resource: { uri: "test://mixed-content-resource", mimeType: "application/json", text: JSON.stringify({ test: "data", value: 123 }) },
          },
        ],
      }),
    }),
    defineTool({
      name: "test_tool_with_logging",
      description: "Tests tool that emits log messages during execution",
      handler: (_args, ctx) => logThreeSteps(ctx),
    }),
    defineTool({
      // 2026-07-28 (server-stateless): logs only when the request's `_meta` asks for a log level.
      name: "test_logging_tool",
      description: "Emits log messages, which must be sent only when the request sets a log level",
      handler: (_args, ctx) => logThreeSteps(ctx),
    }),
    defineTool({
      name: "test_tool_with_progress",
      description: "Tests tool that reports progress notifications",
      handler: async (_args, ctx) => {
        for (const step of [0, 50, 100]) {
          await ctx.progress(step, 100, `Completed step ${step} of 100`);
          if (step < 100) await sleep(50);
        }
        return text(String(ctx.sdk.mcpReq._meta?.progressToken ?? "no progress token"));
      },
    }),
    defineTool({
      name: "test_error_handling",
      description: "Tests error response handling",
      handler: () => {
        throw new Error("This tool intentionally returns an error for testing");
      },
    }),
    defineTool({
      name: "test_reconnection",
      description:
        "Tests SSE stream disconnection and client reconnection (SEP-1699). Server will close the stream mid-call and send the result after client reconnects.",
      handler: async (_args, ctx) => {
        // Only a 2025-11-25 session with an event store offers this; elsewhere the result simply arrives on the stream.
        ctx.sdk.http?.closeSSE?.();
        await sleep(100);
        return text("Reconnection test completed successfully. If you received this, the client properly reconnected after stream closure.");
      },
    }),
    defineTool({
      name: "test_sampling",
      description: "Tests server-initiated sampling (LLM completion request)",
      input: z.object({ prompt: z.string().describe("The prompt to send to the LLM") }),
      handler: async ({ prompt }, ctx) => {
        try {
          const result = await ctx.sdk.mcpReq.send({
            method: "sampling/createMessage",
            params: { messages: [{ role: "user", content: { type: "text", text: prompt } }], maxTokens: 100 },
          });
          const content = Array.isArray(result.content) ? result.content[0] : result.content;
          return text(`LLM response: ${content?.type === "text" ? content.text : "No response"}`);
        } catch (error) {
          return text(`Sampling not supported or error: ${errorText(error)}`);
        }
      },
    }),
    defineTool({
      name: "test_elicitation",
      description: "Tests server-initiated elicitation (user input request)",
      input: z.object({ message: z.string().describe("The message to show the user") }),
      handler: ({ message }, ctx) =>
        elicitOnStream(
          ctx,
          message,
          {
            type: "object",
            properties: {
              username: { type: "string", description: "User's response" },
              email: { type: "string", description: "User's email address" },
            },
            required: ["username", "email"],
          },
          "User response",
        ),
    }),
    defineTool({
      name: "test_elicitation_sep1034_defaults",
      description: "Tests elicitation with default values per SEP-1034",
      handler: (_args, ctx) =>
        elicitOnStream(ctx, "Please review and update the form fields with defaults", SEP1034_SCHEMA, "Elicitation completed"),
    }),
    defineTool({
      name: "test_elicitation_sep1330_enums",
      description: "Tests elicitation with enum schema improvements per SEP-1330",
      handler: (_args, ctx) => elicitOnStream(ctx, "Please select options from the enum fields", SEP1330_SCHEMA, "Elicitation completed"),
    }),

    defineTool({
      // SEP-2243: a 2026-07-28 client mirrors `region` into the `Mcp-Param-Region` header; the SDK checks they agree.
      name: "test_custom_headers",
      description: "Echoes a parameter that clients also send in the Mcp-Param-Region header (SEP-2243)",
      input: z.object({ region: z.string().describe("A region name").meta({ "x-mcp-header": "Region" }) }),
      handler: ({ region }) => text(`region=${region}`),
    }),

    // ----- 2026-07-28: server-stateless diagnostics -----
    defineTool({
      name: "test_missing_capability",
      description: "Needs the client's sampling capability (a client that did not declare it gets -32021)",
      handler: (_args, ctx) => {
        const answer = sampledText(ctx.sdk, "sample");
        if (answer !== undefined) return text(`Sampled: ${answer}`);
        return inputRequired({ inputRequests: { sample: askSampling("Say hello") } });
      },
    }),
    defineTool({
      name: "test_streaming_elicitation",
      description: "Streams progress, then asks for input with an input_required result (never a server-to-client request)",
      handler: async (_args, ctx) => {
        const answer = acceptedContent(ctx.sdk.mcpReq.inputResponses, "user_name", nameSchema);
        if (answer) return text(`Hello, ${answer.name}!`);
        await ctx.progress(0, 1, "Asking for a name");
        return inputRequired({ inputRequests: { user_name: askName() } });
      },
    }),
    defineTool({
      name: "test_trigger_tool_change",
      description: "Announces a tools list change to the caller's listeners",
      handler: (_args, ctx) => notifyChange(ctx, "tools"),
    }),
    defineTool({
      name: "test_trigger_prompt_change",
      description: "Announces a prompts list change to the caller's listeners",
      handler: (_args, ctx) => notifyChange(ctx, "prompts"),
    }),

    // ----- 2026-07-28: multi-round-trip requests (SEP-2322) -----
    defineTool({
      name: "test_input_required_result_elicitation",
      description: "Asks for a name with an input_required result, then greets",
      handler: (_args, ctx) => {
        // Missing, wrong or malformed responses are asked for again (SEP-2322 recommends re-requesting).
        const answer = acceptedContent(ctx.sdk.mcpReq.inputResponses, "user_name", nameSchema);
        if (answer) return text(`Hello, ${answer.name}!`);
        return inputRequired({ inputRequests: { user_name: askName() } });
      },
    }),
    defineTool({
      name: "test_input_required_result_sampling",
      description: "Asks the client's model a question with an input_required result",
      handler: (_args, ctx) => {
        const answer = sampledText(ctx.sdk, "capital_question");
        if (answer !== undefined) return text(`The model answered: ${answer}`);
        return inputRequired({ inputRequests: { capital_question: askSampling("What is the capital of France?") } });
      },
    }),
    defineTool({
      name: "test_input_required_result_list_roots",
      description: "Asks for the client's roots with an input_required result",
      handler: (_args, ctx) => {
        const roots = rootsOf(ctx.sdk, "client_roots");
        if (roots) return text(`Roots: ${roots.map((r) => r.uri).join(", ") || "(none)"}`);
        return inputRequired({ inputRequests: { client_roots: inputRequired.listRoots() } });
      },
    }),
    defineTool({
      name: "test_input_required_result_request_state",
      description: "Round-trips a signed requestState through an input_required result",
      handler: async (_args, ctx) => {
        const state = ctx.sdk.mcpReq.requestState<{ round: number }>();
        const answer = acceptedContent(ctx.sdk.mcpReq.inputResponses, "confirm", okSchema);
        if (state?.round === 1 && answer) return text(`state-ok: confirmed=${answer.ok}`);
        return inputRequired({ inputRequests: { confirm: askConfirm() }, requestState: await codec.mint({ round: 1 }, ctx.sdk) });
      },
    }),
    defineTool({
      name: "test_input_required_result_multiple_inputs",
      description: "Asks for an elicitation, a sampling and a roots listing in one input_required result",
      handler: async (_args, ctx) => {
        const name = acceptedContent(ctx.sdk.mcpReq.inputResponses, "user_name", nameSchema);
        const greeting = sampledText(ctx.sdk, "greeting");
        const roots = rootsOf(ctx.sdk, "client_roots");
        if (ctx.sdk.mcpReq.requestState() !== undefined && name && greeting !== undefined && roots) {
          return text(`${greeting} ${name.name}; roots: ${roots.map((r) => r.uri).join(", ") || "(none)"}`);
        }
        // First round, or an incomplete answer: ask for all three again, under fresh state.
        const inputRequests: InputRequests = {
          user_name: askName(),
          greeting: askSampling("Write a short greeting"),
          client_roots: inputRequired.listRoots(),
        };
        return inputRequired({ inputRequests, requestState: await codec.mint({ round: 1 }, ctx.sdk) });
      },
    }),
    defineTool({
      name: "test_input_required_result_multi_round",
      description: "Asks two questions in two rounds, carrying the first answer in requestState",
      handler: async (_args, ctx) => {
        const state = ctx.sdk.mcpReq.requestState<{ step: number; name?: string }>();
        if (state?.step === 2 && state.name !== undefined) {
          const color = acceptedContent(ctx.sdk.mcpReq.inputResponses, "step2", z.object({ color: z.string() }));
          if (color) return text(`${state.name} likes ${color.color}`);
        }
        if (state?.step === 1) {
          const name = acceptedContent(ctx.sdk.mcpReq.inputResponses, "step1", nameSchema);
          if (name) {
            return inputRequired({
              inputRequests: {
                step2: inputRequired.elicit({
                  message: "Step 2: What is your favorite color?",
                  requestedSchema: { type: "object", properties: { color: { type: "string" } }, required: ["color"] },
                }),
              },
              requestState: await codec.mint({ step: 2, name: name.name }, ctx.sdk),
            });
          }
        }
        return inputRequired({
          inputRequests: { step1: askName("Step 1: What is your name?") },
          requestState: await codec.mint({ step: 1 }, ctx.sdk),
        });
      },
    }),
    defineTool({
      name: "test_input_required_result_tampered_state",
      description: "Issues an integrity-protected requestState; a tampered one is refused",
      handler: async (_args, ctx) => {
        // A tampered state never reaches this handler: the codec's verify hook refuses it with -32602.
        const state = ctx.sdk.mcpReq.requestState<{ round: number }>();
        const answer = acceptedContent(ctx.sdk.mcpReq.inputResponses, "confirm", okSchema);
        if (state?.round === 1 && answer) return text(`state-ok: confirmed=${answer.ok}`);
        return inputRequired({ inputRequests: { confirm: askConfirm() }, requestState: await codec.mint({ round: 1 }, ctx.sdk) });
      },
    }),
    defineTool({
      name: "test_input_required_result_capabilities",
      description: "Asks only for input the client declared it can give",
      handler: (_args, ctx) => {
        // 2026-07-28 carries the client's capabilities in every request's `_meta` envelope.
        const envelope = ctx.sdk.mcpReq.envelope as Record<string, unknown> | undefined;
        const capabilities = (envelope?.[CLIENT_CAPABILITIES_META_KEY] ?? {}) as ClientCapabilities;
        const inputRequests: InputRequests = {};
        if (capabilities.elicitation && !acceptedContent(ctx.sdk.mcpReq.inputResponses, "user_name", nameSchema)) {
          inputRequests.user_name = askName();
        }
        if (capabilities.sampling && sampledText(ctx.sdk, "greeting") === undefined) inputRequests.greeting = askSampling("Write a short greeting");
        if (capabilities.roots && !rootsOf(ctx.sdk, "client_roots")) inputRequests.client_roots = inputRequired.listRoots();
        if (Object.keys(inputRequests).length === 0) return text("Nothing (more) to ask this client");
        return inputRequired({ inputRequests });
      },
    }),
    // Each definition keeps its own input type; the registry takes them as one list (it validates with each schema).
  ] as unknown as ToolDefinition[];

  const resources: ResourceDefinition[] = [
    defineResource({
      name: "static-text",
      uri: "test://static-text",
      title: "Static text resource",
      description: "A static text resource for testing",
      mimeType: "text/plain",
      read: (uri) => ({ contents: [{ uri: uri.href, mimeType: "text/plain", text: "This is the content of the static text resource." }] }),
    }),
    defineResource({
      name: "static-binary",
      uri: "test://static-binary",
      title: "Static binary resource",
      description: "A static binary resource (a PNG image) for testing",
      mimeType: "image/png",
      read: (uri) => ({ contents: [{ uri: uri.href, mimeType: "image/png", blob: TEST_IMAGE_BASE64 }] }),
    }),
    defineResource({
      name: "watched-resource",
      uri: "test://watched-resource",
      title: "Watched resource",
      description: "A resource to subscribe to",
      mimeType: "text/plain",
      read: (uri) => ({ contents: [{ uri: uri.href, mimeType: "text/plain", text: "Watched resource content" }] }),
    }),
    defineResource({
      name: "template",
      uri: "test://template/{id}/data",
      title: "Template resource",
      description: "A resource template with an id parameter",
      mimeType: "application/json",
      read: (uri, _ctx, variables) => {
        const id = String(variables.id);
        return {
          contents: [
            { uri: uri.href, mimeType: "application/json", text: JSON.stringify({ id, templateTest: true, data: `Data for ID: ${id}` }) },
          ],
        };
      },
    }),
  ];

  const prompts = [
    definePrompt({
      name: "test_simple_prompt",
      description: "A simple prompt without arguments",
      get: () => ({ messages: [{ role: "user", content: { type: "text", text: "This is a simple prompt for testing." } }] }),
    }),
    definePrompt({
      name: "test_prompt_with_arguments",
      description: "A prompt with required arguments",
      args: z.object({
        arg1: completable(z.string().describe("First test argument"), (value) =>
          ["testValue1", "test-alpha", "test-beta", "paris", "park"].filter((v) => v.startsWith(value)),
        ),
        arg2: z.string().describe("Second test argument"),
      }),
      get: ({ arg1, arg2 }) => ({
        messages: [{ role: "user", content: { type: "text", text: `Prompt with arguments: arg1='${arg1}', arg2='${arg2}'` } }],
      }),
    }),
    definePrompt({
      name: "test_prompt_with_embedded_resource",
      description: "A prompt that includes an embedded resource",
      args: z.object({ resourceUri: z.string().describe("URI of the resource to embed") }),
      get: ({ resourceUri }): GetPromptResult => ({
        messages: [
          {
            role: "user",
            content: { type: "resource", resource: { uri: resourceUri, mimeType: "text/plain", text: "Embedded resource content for testing." } },
          },
          { role: "user", content: { type: "text", text: "Please process the embedded resource above." } },
        ],
      }),
    }),
    definePrompt({
      name: "test_prompt_with_image",
      description: "A prompt that includes image content",
      get: (): GetPromptResult => ({
        messages: [
          { role: "user", content: { type: "image", data: TEST_IMAGE_BASE64, mimeType: "image/png" } },
          { role: "user", content: { type: "text", text: "Please analyze the image above." } },
        ],
      }),
    }),
    // As for tools: each prompt keeps its own argument type in a list of them all.
  ] as unknown as PromptDefinition[];

  /** What the definitions cannot express: a raw JSON Schema 2020-12 input, and a prompt that answers input_required. */
  const configure = (server: McpServer) => {
    server.registerTool(
      "json_schema_2020_12_tool",
      { description: "Tool with JSON Schema 2020-12 features", inputSchema: fromJsonSchema(JSON_SCHEMA_2020_12_INPUT_SCHEMA) },
      (args) => text(`Received: ${JSON.stringify(args)}`),
    );
    server.registerPrompt(
      "test_input_required_result_prompt",
      { description: "A prompt that asks for context with an input_required result before it is built" },
      (ctx: ServerContext) => {
        const answer = acceptedContent(ctx.mcpReq.inputResponses, "user_context", z.object({ context: z.string() }));
        if (!answer) {
          return inputRequired({
            inputRequests: {
              user_context: inputRequired.elicit({
                message: "What context should the prompt use?",
                requestedSchema: { type: "object", properties: { context: { type: "string" } }, required: ["context"] },
              }),
            },
          });
        }
        return { messages: [{ role: "user", content: { type: "text", text: `Use this context: ${answer.context}` } }] };
      },
    );
  };

  return {
    tools,
    resources,
    prompts,
    server: {
      name: "gatehouse-conformance-server",
      version: "1.0.0",
      serverOptions: {
        capabilities: { completions: {} },
        requestState: { verify: codec.verify },
      },
      configure,
    },
  };
}

/** `npx tsx examples/conformance-server.ts`: the same server on PORT, with the usual configuration. */
async function main(): Promise<void> {
  const config = loadConfig();
  // The trigger tools reach the notifier of the Gatehouse they are served by, once it exists.
  const late: { notifier?: Notifier } = {};
  const running = await startServer({ config, gatehouse: buildConformanceGatehouse({ notifier: () => late.notifier }) });
  late.notifier = running.gatehouse.notify;
  const stop = () => void running.close().then(() => process.exit(0));
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error: unknown) => {
    console.error(errorText(error));
    process.exit(1);
  });
}
