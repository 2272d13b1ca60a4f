/**
 * The lean 2026-07-28 dispatch (issue 10): the hot, simple requests —
 * `server/discover`, the lists, and `tools/call`, `prompts/get`,
 * `resources/read` of a definition — answered from the body the endpoint
 * parsed once, with one serialization, and the same bytes, status and headers
 * as the SDK path (`ModernHandlers`, an SDK server per request), which stays
 * the reference: `test/conformance/mcp-lean-differential.test.ts` holds the
 * two to that.
 *
 * `handle` returns undefined — and the request goes to the SDK exactly as
 * before — for anything else, including what it can still decline before a
 * handler runs (a name it does not serve, an unparsable URI); a list it has
 * not learned yet it asks the SDK for, once. Once a handler has run there is
 * no going back, so everything after it is mirrored here.
 */
import { bearerAuthChallengeResponse, getOAuthProtectedResourceMetadataUrl, OAuthError, OAuthErrorCode, type Variables } from "@modelcontextprotocol/server";
import type { Logger } from "../../logger.js";
import type { McpContext } from "../define.js";
import { requiredScopes, type GatehouseAuthInfo, type McpRegistry } from "../registry.js";
import { LeanCalls } from "./calls.js";
import { leanContext } from "./context.js";
import { encodeResult, ENCODE_FAILED, errorResponse, resultResponse, thrownError, type WireError } from "./encode.js";
import { callTool, getPrompt, readResource } from "./handlers.js";
import { leanInventory, type LeanInventory } from "./inventory.js";
import { LearnedLists } from "./lists.js";
import { isPlainObject, leanRequest, type Json, type LeanRequest } from "./request.js";

export interface LeanDispatchDeps {
  registry: McpRegistry;
  /** The SDK path for a request the lean dispatch took but hands back. */
  viaSdk(request: Request, auth: GatehouseAuthInfo, parsedBody: unknown): Promise<Response>;
  logger: Logger;
}

type Run = (ctx: McpContext) => Promise<Json>;

export class LeanDispatch {
  readonly calls = new LeanCalls();
  private inventory: LeanInventory;
  private lists = new LearnedLists();
  /** The registry version the inventory and learned lists were taken from. */
  private version: number;
  private readonly serverInfo: Json;
  /** Definitions already reported as needing `sdkDispatch`. */
  private readonly reported = new Set<string>();
  /** McpServer's `maxToolInputElements` (a cast-in SDK option): with a ceiling, tool calls go to the SDK. */
  private readonly toolsViaSdk: boolean;

  constructor(private readonly deps: LeanDispatchDeps) {
    this.inventory = leanInventory(deps.registry);
    this.version = deps.registry.version;
    this.serverInfo = deps.registry.serverInfo();
    const ceiling = (deps.registry.options.serverOptions as { maxToolInputElements?: number } | undefined)?.maxToolInputElements;
    this.toolsViaSdk = ceiling !== undefined && ceiling !== Infinity;
  }

  /** The answer to a request the lean dispatch takes, or undefined to leave it to the SDK path. */
  handle(request: Request, auth: GatehouseAuthInfo, body: unknown): Promise<Response> | undefined {
    const req = leanRequest(request, body);
    if (!req) return undefined;
    if (this.version !== this.deps.registry.version) {
      // An upstream's lists changed (gateway/notifications.ts): what was learned or taken stock of is stale.
      this.version = this.deps.registry.version;
      this.inventory = leanInventory(this.deps.registry);
      this.lists = new LearnedLists();
    }
    const { params } = req;
    switch (req.method) {
      case "tools/call": {
        const tool = this.toolsViaSdk ? undefined : this.inventory.tools.get(params.name as string);
        if (!tool) return undefined;
        return this.serve(req, request, auth, tool, (ctx) => callTool(tool, params.arguments as Json | undefined, ctx, req.meta));
      }
      case "prompts/get": {
        const prompt = this.inventory.prompts.get(params.name as string);
        if (!prompt) return undefined;
        return this.serve(req, request, auth, prompt, (ctx) => getPrompt(prompt, params.arguments as Json | undefined, ctx, req.meta));
      }
      case "resources/read":
        return this.read(req, request, auth);
      default:
        if (!this.inventory.lists.has(req.method)) return undefined;
        return this.lists.answer(req, () => this.deps.viaSdk(request, auth, body));
    }
  }

  /** resources/read finds its resource as McpServer does: the URL as the SDK normalizes it, fixed URIs first, then templates. */
  private read(req: LeanRequest, request: Request, auth: GatehouseAuthInfo): Promise<Response> | undefined {
    let uri: URL;
    try {
      uri = new URL(req.params.uri as string);
    } catch {
      return undefined;
    }
    const href = uri.toString();
    const fixed = this.inventory.resources.get(href);
    if (fixed) return this.serve(req, request, auth, fixed, (ctx) => readResource(fixed, uri, {}, ctx, req.meta));
    if (this.inventory.foreignResources.has(href)) return undefined;
    for (const { template, definition, viaSdk } of this.inventory.templates) {
      const variables: Variables | null = template.match(href);
      if (!variables) continue;
      if (viaSdk) return undefined;
      return this.serve(req, request, auth, definition, (ctx) => readResource(definition, uri, variables, ctx, req.meta));
    }
    return undefined;
  }

  /** The pre-dispatch scope check, the call, and the answer, as createMcpHandler and the SDK's Protocol give them. */
  private async serve(req: LeanRequest, request: Request, auth: GatehouseAuthInfo, definition: { name: string; scopes?: readonly string[] }, run: Run): Promise<Response> {
    const challenge = scopeChallenge(definition, auth);
    if (challenge) return challenge;
    const call = this.calls.start(auth.extra.userId, auth.clientId, request);
    const ctx = leanContext({ auth, request: req, http: request, call, owner: definition.name, onSdkNeeded: this.report });
    let outcome: { result: Json } | { thrown: unknown };
    try {
      outcome = { result: await run(ctx) };
    } catch (thrown) {
      outcome = { thrown };
    } finally {
      call.finish();
    }
    // Closing the SDK handler (revocation, shutdown) ends its exchange unanswered.
    if (call.revoked) return new Response(null, { status: 499 });
    if ("thrown" in outcome) return errorResponse(req.id, undeliverable(thrownError(outcome.thrown)));
    try {
      const encoded = encodeResult(req.method, outcome.result, this.serverInfo);
      if (encoded._meta !== undefined && !isPlainObject(encoded._meta)) return errorResponse(req.id, ENCODE_FAILED);
      return resultResponse(req.id, encoded);
    } catch (error) {
      this.deps.logger.debug("mcp result could not be encoded", { method: req.method, error: error instanceof Error ? error.message : String(error) });
      return errorResponse(req.id, ENCODE_FAILED);
    }
  }

  /** Made once (not per call): logs, once per definition, that a handler needed the SDK. */
  private readonly report = (owner: string): void => {
    if (this.reported.has(owner)) return;
    this.reported.add(owner);
    this.deps.logger.warn("a 2026-07-28 handler needs the SDK; set sdkDispatch: true on its definition", { definition: owner });
  };
}

/**
 * Where the SDK answers nothing at all, the lean dispatch answers -32603: the SDK's per-request transport
 * drops a message that fails its JSON-RPC response guard (a result whose `_meta` is not an object, an
 * error whose message is not a string) and the request hangs until the client gives up; likewise when a
 * result cannot be serialized. These are the only answers that differ, on purpose.
 */
function undeliverable(error: WireError): WireError {
  return typeof error.message === "string" ? error : ENCODE_FAILED;
}

/** The SDK's `requireScopes` preflight and its 403 (createScopeChallengeResponse), with the same challenge header. */
function scopeChallenge(definition: { scopes?: readonly string[] }, auth: GatehouseAuthInfo): Response | undefined {
  const scopes = requiredScopes(definition);
  const granted = new Set(auth.scopes);
  if (scopes.every((scope) => granted.has(scope))) return undefined;
  const resource = auth.resource;
  const resourceMetadataUrl =
    auth.resourceMetadataUrl ?? (resource?.protocol === "https:" || resource?.protocol === "http:" ? getOAuthProtectedResourceMetadataUrl(resource) : undefined);
  return bearerAuthChallengeResponse(new OAuthError(OAuthErrorCode.InsufficientScope, "Insufficient scope"), { requiredScopes: [...scopes], resourceMetadataUrl });
}
