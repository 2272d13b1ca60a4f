/**
 * The `McpContext` of a lean call: the same values `contextFrom` derives from
 * the SDK's context, with `signal` and `sdk` made only when a handler reads them.
 *
 * `ctx.sdk` on the lean path is a view of the request holding what the SDK's
 * Protocol and Server put in a 2026-07-28 handler's context (SDK 2.4
 * `_onrequest`/`buildContext`): id, method, `_meta` less the envelope keys, the
 * envelope, the signal, auth and the HTTP request. The calls behave as they do
 * on 2026-07-28: `log` sends nothing without a `_meta` log level (requests
 * with one go to the SDK), server-to-client requests are refused with the
 * SDK's own errors (the revision has no such channel). Only what would put a
 * message on the wire mid-call (`notify`, `send` of a custom method) cannot
 * be served here; it fails loudly, naming the fix (`sdkDispatch: true`).
 */
import {
  CLIENT_CAPABILITIES_META_KEY,
  CLIENT_INFO_META_KEY,
  LOG_LEVEL_META_KEY,
  PROTOCOL_VERSION_META_KEY,
  SdkError,
  SdkErrorCode,
  type ClientCapabilities,
  type ServerContext,
} from "@modelcontextprotocol/server";
import type { McpContext } from "../define.js";
import type { GatehouseAuthInfo } from "../registry.js";
import type { LeanCall } from "./calls.js";
import { MODERN_REVISION, type Json, type LeanRequest } from "./request.js";

/** The envelope keys the SDK lifts out of `_meta` before a handler sees it, in its order. */
const ENVELOPE_KEYS = [PROTOCOL_VERSION_META_KEY, CLIENT_INFO_META_KEY, CLIENT_CAPABILITIES_META_KEY, LOG_LEVEL_META_KEY];

/** Spec request methods (2025-11-25 registry) that 2026-07-28 does not have: the SDK refuses to send them. */
const DELETED_REQUEST_METHODS = new Set([
  "ping",
  "initialize",
  "logging/setLevel",
  "resources/subscribe",
  "resources/unsubscribe",
  "tasks/get",
  "tasks/result",
  "tasks/list",
  "tasks/cancel",
  "sampling/createMessage",
  "elicitation/create",
  "roots/list",
]);

export interface LeanContextInput {
  auth: GatehouseAuthInfo;
  request: LeanRequest;
  http: Request;
  call: LeanCall;
  /** Names the definition, for the error when its handler tries to write to the wire. */
  owner: string;
  /** Told when a handler needed the SDK after all (logged once per definition). */
  onSdkNeeded(owner: string): void;
}

export function leanContext(input: LeanContextInput): McpContext {
  const { auth, call } = input;
  let sdk: ServerContext | undefined;
  return {
    user: { id: auth.extra.userId, email: auth.extra.email },
    // As `contextFrom`: the envelope's, which the request was checked to carry as an object before dispatch.
    client: { id: auth.clientId, name: auth.extra.clientName, capabilities: (input.request.meta[CLIENT_CAPABILITIES_META_KEY] as ClientCapabilities | undefined) ?? {} },
    scopes: auth.scopes,
    connectionId: auth.extra.connectionId,
    sessionId: undefined,
    get signal() {
      return call.signal();
    },
    // A request with a progress token is served by the SDK, so there is never one to answer here.
    async progress() {},
    get sdk() {
      return (sdk ??= sdkView(input));
    },
  };
}

function sdkView(input: LeanContextInput): ServerContext {
  const { request, auth } = input;
  const meta: Json = { ...request.meta };
  const envelope: Json = {};
  for (const key of ENVELOPE_KEYS) {
    if (!(key in meta)) continue;
    envelope[key] = meta[key];
    delete meta[key];
  }
  const needsSdk = (what: string) => {
    input.onSdkNeeded(input.owner);
    return new Error(
      `${input.owner} used ctx.sdk.${what} during a 2026-07-28 request served by Gatehouse's lean dispatch, ` +
        `which cannot send messages mid-call; set sdkDispatch: true on its definition to serve it through the SDK`,
    );
  };
  const pushRefused = (method: string) =>
    new SdkError(
      SdkErrorCode.MethodNotSupportedByProtocolVersion,
      `Server-to-client requests are not available on protocol revision ${MODERN_REVISION}: ` +
        `'${method}' cannot be sent while serving a request on that revision. ` +
        `Return inputRequired({ ... }) from the handler instead — the client fulfils the embedded ` +
        `requests and retries the original request (multi round-trip requests).`,
      { method, era: MODERN_REVISION },
    );
  const view = {
    sessionId: undefined,
    mcpReq: {
      id: request.id,
      method: request.method,
      _meta: Object.keys(meta).length > 0 ? meta : undefined,
      ...(Object.keys(envelope).length > 0 && { envelope }),
      requestState: () => undefined,
      signal: input.call.signal(),
      send: (r: { method: string }) => {
        if (DELETED_REQUEST_METHODS.has(r.method)) {
          throw new SdkError(
            SdkErrorCode.MethodNotSupportedByProtocolVersion,
            `Method '${r.method}' is not supported by the negotiated protocol version (wire era ${MODERN_REVISION})`,
            { method: r.method, era: MODERN_REVISION },
          );
        }
        throw needsSdk(`mcpReq.send(${r.method})`);
      },
      notify: (n: { method: string }) => Promise.reject(needsSdk(`mcpReq.notify(${n.method})`)),
      log: () => Promise.resolve(),
      elicitInput: () => Promise.reject(pushRefused("elicitation/create")),
      requestSampling: () => Promise.reject(pushRefused("sampling/createMessage")),
    },
    http: { authInfo: auth, req: input.http, closeSSE: undefined, closeStandaloneSSE: undefined },
  };
  return view as unknown as ServerContext;
}
