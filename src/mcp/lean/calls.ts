/**
 * Cancellation for lean calls, as the SDK path has it: revoking a connection
 * (or removing a user, or shutting down) closes that (user, client)'s SDK
 * handler, which aborts its exchanges with "Connection closed" and answers
 * them 499; a client going away aborts its own exchange.
 *
 * Most handlers never look at their signal, so none is made up front: a call
 * records the revocation counts it started under, and builds its
 * AbortController only when the handler reads `ctx.signal`. A revocation in
 * between is still seen, by comparing counts.
 */
import { SdkError, SdkErrorCode } from "@modelcontextprotocol/server";

export class LeanCalls {
  /** Revocations so far, per user and per (user, client); `all` counts shutdowns. */
  private readonly revokedUsers = new Map<string, number>();
  private readonly revokedPairs = new Map<string, number>();
  private all = 0;
  /** Calls whose handler holds a signal, to abort on revocation. */
  private readonly listening = new Set<LeanCall>();

  start(userId: string, clientId: string, request: Request): LeanCall {
    const pair = `${userId}\n${clientId}`;
    return new LeanCall(this, userId, pair, this.countsFor(userId, pair), request);
  }

  countsFor(userId: string, pair: string): number {
    return this.all + (this.revokedUsers.get(userId) ?? 0) + (this.revokedPairs.get(pair) ?? 0);
  }

  /** What `ModernHandlers.closeFor` does to the SDK handlers, for lean calls. */
  revoke(userId: string, clientId?: string): void {
    const pair = `${userId}\n${clientId}`;
    if (clientId === undefined) this.revokedUsers.set(userId, (this.revokedUsers.get(userId) ?? 0) + 1);
    else this.revokedPairs.set(pair, (this.revokedPairs.get(pair) ?? 0) + 1);
    for (const call of this.listening) if (call.userId === userId && (clientId === undefined || call.pair === pair)) call.abort();
  }

  revokeAll(): void {
    this.all++;
    for (const call of this.listening) call.abort();
  }

  listen(call: LeanCall): void {
    this.listening.add(call);
  }

  unlisten(call: LeanCall): void {
    this.listening.delete(call);
  }
}

export class LeanCall {
  private controller: AbortController | undefined;
  private unlink: (() => void) | undefined;

  constructor(
    private readonly calls: LeanCalls,
    readonly userId: string,
    readonly pair: string,
    private readonly counts: number,
    private readonly request: Request,
  ) {}

  /** Whether the call was cancelled by a revocation or shutdown since it started (the SDK then answers 499). */
  get revoked(): boolean {
    return this.calls.countsFor(this.userId, this.pair) !== this.counts;
  }

  /** The handler's abort signal, made on first use. */
  signal(): AbortSignal {
    if (this.controller) return this.controller.signal;
    const controller = new AbortController();
    this.controller = controller;
    if (this.revoked) {
      this.abort();
      return controller.signal;
    }
    this.calls.listen(this);
    const onAbort = () => this.abort();
    this.request.signal.addEventListener("abort", onAbort, { once: true });
    this.unlink = () => this.request.signal.removeEventListener("abort", onAbort);
    return controller.signal;
  }

  abort(): void {
    // The reason the SDK's Protocol aborts its handlers with when their exchange closes.
    if (this.controller && !this.controller.signal.aborted) this.controller.abort(new SdkError(SdkErrorCode.ConnectionClosed, "Connection closed"));
  }

  finish(): void {
    if (!this.controller) return;
    this.calls.unlisten(this);
    this.unlink?.();
  }
}
