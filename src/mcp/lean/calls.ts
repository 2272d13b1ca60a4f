/**
 * Cancellation for lean calls, as the SDK path has it: revoking a connection
 * (or removing a user, or shutting down) closes that (user, client)'s SDK
 * handler, which aborts its exchanges with "Connection closed" and answers
 * them 499; a client going away aborts its own exchange.
 *
 * Most handlers never look at their signal, so none is made up front: a call
 * in flight is only marked when revoked, and builds its AbortController when
 * the handler first reads `ctx.signal` (already aborted if it was revoked).
 */
import { SdkError, SdkErrorCode } from "@modelcontextprotocol/server";

export class LeanCalls {
  private readonly inflight = new Set<LeanCall>();

  start(userId: string, clientId: string, request: Request): LeanCall {
    const call = new LeanCall(this, userId, clientId, request);
    this.inflight.add(call);
    return call;
  }

  finished(call: LeanCall): void {
    this.inflight.delete(call);
  }

  /** What `ModernHandlers.closeFor` does to the SDK handlers, for lean calls; without `userId`, every call (shutdown). */
  revoke(userId?: string, clientId?: string): void {
    for (const call of this.inflight) {
      if (userId === undefined || (call.userId === userId && (clientId === undefined || call.clientId === clientId))) call.revoke();
    }
  }
}

export class LeanCall {
  private controller: AbortController | undefined;
  private unlink: (() => void) | undefined;
  /** Cancelled by a revocation or shutdown (the SDK then answers 499). */
  revoked = false;

  constructor(
    private readonly calls: LeanCalls,
    readonly userId: string,
    readonly clientId: string,
    private readonly request: Request,
  ) {}

  /** The handler's abort signal, made on first use. */
  signal(): AbortSignal {
    if (this.controller) return this.controller.signal;
    const controller = new AbortController();
    this.controller = controller;
    if (this.revoked) {
      this.abort();
      return controller.signal;
    }
    const onAbort = () => this.abort();
    this.request.signal.addEventListener("abort", onAbort, { once: true });
    this.unlink = () => this.request.signal.removeEventListener("abort", onAbort);
    return controller.signal;
  }

  revoke(): void {
    this.revoked = true;
    this.abort();
  }

  private abort(): void {
    // The reason the SDK's Protocol aborts its handlers with when their exchange closes.
    if (this.controller && !this.controller.signal.aborted) this.controller.abort(new SdkError(SdkErrorCode.ConnectionClosed, "Connection closed"));
  }

  finish(): void {
    this.calls.finished(this);
    this.unlink?.();
  }
}
