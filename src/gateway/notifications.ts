/**
 * List changes relayed from upstreams (README "Gateway"). When an upstream
 * sends `notifications/{tools,resources,prompts}/list_changed` (or a stdio
 * server comes back after a restart), its lists are read again; the lists
 * that really differ replace that upstream's offer in the registry — so the
 * next `tools/list` on any path (the SDK's servers, the lean dispatch's
 * learned lists, live 2025 sessions) shows them — and the change goes out
 * through `gatehouse.notify`, which reaches listeners on every node
 * (2026-07-28 `subscriptions/listen` streams and 2025 GET streams).
 *
 * Every listener is told, whatever its scopes: the lists show every tool,
 * resource and prompt to every caller (a token without an upstream's scopes
 * is refused at the call, with step-up), so the change is one for all.
 *
 * Each node holds its own connection to each upstream and refreshes from it.
 * Several nodes in front of one HTTP upstream each hear its notification,
 * so a listener may be told once per node; a client re-reads its list, no
 * harm done. Nothing is told when the lists read the same as before.
 */
import type { Logger } from "../logger.js";
import type { Notifier } from "../mcp/endpoint.js";
import type { McpRegistry } from "../mcp/registry.js";
import type { Gateway } from "./gateway.js";
import { listOffered, type ListKind, type Listed } from "./offer.js";
import type { Upstream } from "./upstream.js";

const TELL: Record<ListKind, (notify: Notifier) => Promise<void>> = {
  tools: (notify) => notify.toolsChanged(),
  resources: (notify) => notify.resourcesChanged(),
  prompts: (notify) => notify.promptsChanged(),
};

/** One upstream's refreshes, one at a time; notifications that come during one make one more. */
class Refresher {
  private running: Promise<void> | null = null;
  private again = false;

  constructor(
    private readonly upstream: Upstream,
    private current: Listed,
    private readonly registry: McpRegistry,
    private readonly notify: Notifier,
    private readonly logger: Logger,
  ) {}

  schedule(): void {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = (async () => {
      do {
        this.again = false;
        await this.refresh().catch((error: unknown) =>
          this.logger.warn("upstream lists not refreshed", { upstream: this.upstream.name, error: (error as Error).message }),
        );
      } while (this.again);
      this.running = null;
    })();
  }

  private async refresh(): Promise<void> {
    const next = await listOffered(this.upstream);
    const changed = (Object.keys(TELL) as ListKind[]).filter((kind) => next.seen[kind] !== this.current.seen[kind]);
    if (changed.length === 0) return;
    // Refused when a new name clashes with another upstream's: the old lists stay, and the log says why.
    this.registry.offer(this.upstream.name, next.offered);
    this.current = next;
    this.logger.info("upstream lists changed", { upstream: this.upstream.name, lists: changed.join(" ") });
    for (const kind of changed) await TELL[kind](this.notify);
  }
}

/** From now on, each upstream's list changes reach the registry and the listeners. */
export function relayListChanges(gateway: Gateway, registry: McpRegistry, notify: Notifier, logger: Logger): void {
  gateway.upstreams.forEach((upstream, i) => {
    const refresher = new Refresher(upstream, gateway.listed[i]!, registry, notify, logger);
    upstream.onListChanged = () => refresher.schedule();
  });
}
