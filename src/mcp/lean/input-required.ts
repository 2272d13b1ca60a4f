/**
 * The SDK's multi-round-trip seam around `tools/call`, `prompts/get` and
 * `resources/read` handlers on 2026-07-28 (Server `_invokeInputRequiredCapableHandler`,
 * SDK 2.4; SEP-2322): an `input_required` result must carry `inputRequests` or
 * `requestState`, and every embedded request must be one the revision defines
 * and that the request's own envelope declares the client capability for
 * (else -32021, answered 400). A thrown URL-elicitation error (-32042) is a
 * 2025 idiom and becomes -32603 with the SDK's steer. Only first rounds come
 * here: retries carry `inputResponses`/`requestState` and go to the SDK.
 */
import {
  CLIENT_CAPABILITIES_META_KEY,
  MissingRequiredClientCapabilityError,
  ProtocolError,
  ProtocolErrorCode,
  type ClientCapabilities,
} from "@modelcontextprotocol/server";
import { isPlainObject, MODERN_REVISION, type Json } from "./request.js";

/** Rethrows a handler's throw as the seam does. */
export function seamThrow(thrown: unknown): never {
  if (thrown instanceof ProtocolError && thrown.code === ProtocolErrorCode.UrlElicitationRequired) {
    throw new ProtocolError(
      ProtocolErrorCode.InternalError,
      `URL elicitation cannot be signalled by throwing UrlElicitationRequiredError on protocol revision ` +
        `${MODERN_REVISION}: return inputRequired({ inputRequests: { …: inputRequired.elicitUrl(...) } }) ` +
        `from the handler instead. The urlElicitationRequired error (-32042) of earlier revisions is not ` +
        `available on this revision.`,
    );
  }
  throw thrown;
}

/** The SDK's `isInputRequiredResult`. */
export function isInputRequired(value: unknown): value is Json {
  return isPlainObject(value) && value.resultType === "input_required";
}

/** Checks an input_required result as the seam does; throws its errors. */
export function checkInputRequired(method: string, result: Json, meta: Json): void {
  const inputRequests = result.inputRequests as Record<string, unknown> | null | undefined;
  const hasInputRequests = inputRequests != null && Object.keys(inputRequests).length > 0;
  if (!hasInputRequests && typeof result.requestState !== "string") {
    throw new ProtocolError(
      ProtocolErrorCode.InternalError,
      `Handler for ${method} returned an input-required result with neither inputRequests nor requestState ` +
        `(every InputRequiredResult must include at least one of the two)`,
    );
  }
  if (!hasInputRequests) return;
  const declared = meta[CLIENT_CAPABILITIES_META_KEY] as ClientCapabilities | undefined;
  for (const [key, entry] of Object.entries(inputRequests)) {
    const { embedded, required } = coerceEmbedded(method, key, entry);
    const missing = missingCapabilities(required, declared);
    if (missing !== undefined) {
      throw new MissingRequiredClientCapabilityError(
        { requiredCapabilities: missing },
        `Cannot request input '${key}' (${embedded.method}): the request's client capabilities do not declare the required capability`,
      );
    }
  }
}

interface Embedded {
  method: string;
  params?: Json;
}

function coerceEmbedded(method: string, key: string, entry: unknown): { embedded: Embedded; required: Json } {
  if (entry === null || typeof entry !== "object" || typeof (entry as { method?: unknown }).method !== "string") {
    throw new ProtocolError(
      ProtocolErrorCode.InternalError,
      `Handler for ${method} returned an invalid input request '${key}': each inputRequests entry must be an ` +
        `embedded elicitation/create, sampling/createMessage, or roots/list request`,
    );
  }
  const embedded = entry as Embedded;
  const required = requiredCapabilities(embedded);
  if (required === undefined) {
    throw new ProtocolError(
      ProtocolErrorCode.InternalError,
      `Handler for ${method} returned an input request '${key}' of kind '${embedded.method}', which is not an ` +
        `embedded request the 2026-07-28 revision defines`,
    );
  }
  return { embedded, required };
}

/** The client capability each embedded request needs (the SDK's requiredClientCapabilitiesForInputRequest). */
function requiredCapabilities(entry: Embedded): Json | undefined {
  switch (entry.method) {
    case "elicitation/create":
      return entry.params?.mode === "url" ? { elicitation: { url: {} } } : { elicitation: { form: {} } };
    case "sampling/createMessage": {
      const params = entry.params;
      return params !== undefined && (params.tools !== undefined || params.toolChoice !== undefined) ? { sampling: { tools: {} } } : { sampling: {} };
    }
    case "roots/list":
      return { roots: {} };
    default:
      return undefined;
  }
}

/** The SDK's missingClientCapabilities: what `required` asks that `declared` lacks (an empty `elicitation` implies form). */
function missingCapabilities(required: Json, declared: ClientCapabilities | undefined): ClientCapabilities | undefined {
  const missing: Json = {};
  for (const [capability, requirement] of Object.entries(required)) {
    if (requirement === undefined) continue;
    const declaredValue = declared === undefined ? undefined : (declared as Json)[capability];
    if (declaredValue === undefined) {
      missing[capability] = requirement;
      continue;
    }
    if (isPlainObject(requirement) && isPlainObject(declaredValue)) {
      const missingMembers: Json = {};
      for (const [member, memberRequirement] of Object.entries(requirement)) {
        const implied = capability === "elicitation" && member === "form" && declaredValue.form === undefined && declaredValue.url === undefined;
        if (memberRequirement !== undefined && declaredValue[member] === undefined && !implied) missingMembers[member] = memberRequirement;
      }
      if (Object.keys(missingMembers).length > 0) missing[capability] = missingMembers;
    }
  }
  return Object.keys(missing).length > 0 ? (missing as ClientCapabilities) : undefined;
}
