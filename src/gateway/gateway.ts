/**
 * Gateway mode: Gatehouse in front of existing MCP servers. `startGateway`
 * connects to each configured upstream, lists its tools, resources,
 * resource templates and prompts, and returns them as definitions for the
 * registry; `close` stops every upstream (and each stdio server's whole
 * process group).
 *
 * An upstream that cannot be reached at start-up does not stop Gatehouse:
 * it is logged, reported as `down` on /readyz, and offers nothing until the
 * next start (nothing connects to it meanwhile). Once up, an upstream's
 * lists follow its list-changed notifications (notifications.ts). Two upstreams
 * offering one tool or prompt name, or one resource URI or URI template,
 * stop start-up.
 */
import type { Clock } from "../clock.js";
import { ConfigError } from "../config.js";
import type { Logger } from "../logger.js";
import type { PromptDefinition, ResourceDefinition, ToolDefinition } from "../mcp/define.js";
import type { UpstreamConfig } from "./config.js";
import type { IdentityTokenSigner } from "./identity-token.js";
import { listOffered, NOTHING, type Listed } from "./offer.js";
import { Upstream, type UpstreamHealth } from "./upstream.js";

export interface Gateway {
  tools: ToolDefinition[];
  resources: ResourceDefinition[];
  prompts: PromptDefinition[];
  upstreams: Upstream[];
  /** What each upstream offered at start-up, in the order of `upstreams`. */
  listed: Listed[];
  health(): UpstreamHealth[];
  close(): Promise<void>;
}

interface Offered {
  tools: ToolDefinition[];
  resources: ResourceDefinition[];
  prompts: PromptDefinition[];
}

async function offeredBy(upstream: Upstream, logger: Logger): Promise<Listed> {
  try {
    return await listOffered(upstream);
  } catch (error) {
    logger.error("upstream unavailable at start: it offers nothing", { upstream: upstream.name, error: (error as Error).message });
    return NOTHING;
  }
}

/** The first key (a tool or prompt name, a resource URI) two upstreams both offer, with the upstream it clashes in. */
function clash(offered: Offered[], kind: "tools" | "prompts" | "resources", key: (d: { name: string; uri?: string }) => string) {
  const owner = new Map<string, number>();
  for (const [i, list] of offered.entries()) {
    for (const definition of list[kind]) {
      const k = key(definition);
      const other = owner.get(k);
      if (other !== undefined && other !== i) return { index: i, other, key: k };
      owner.set(k, i);
    }
  }
  return undefined;
}

export async function startGateway(configs: UpstreamConfig[], logger: Logger, clock: Clock, tokens?: IdentityTokenSigner): Promise<Gateway> {
  const upstreams = configs.map((config) => new Upstream(config, logger, clock, tokens));
  const listed = await Promise.all(upstreams.map((upstream) => offeredBy(upstream, logger)));
  const offered = listed.map((l) => l.offered);
  const close = async () => {
    await Promise.all(upstreams.map((upstream) => upstream.close()));
  };
  const checks = [
    ["tools", (d: { name: string }) => d.name, "tool"],
    ["prompts", (d: { name: string }) => d.name, "prompt"],
    ["resources", (d: { uri?: string }) => d.uri ?? "", "resource URI"],
  ] as const;
  for (const [kind, key, what] of checks) {
    const found = clash(offered, kind, key);
    if (found) {
      await close();
      const hint = kind === "resources" ? "deny it in one of them (resources.deny)" : "give one of them a prefix";
      throw new ConfigError(`upstreams[${found.index}].${kind === "resources" ? "resources" : "prefix"}`, `the ${what} "${found.key}" is also offered by upstream "${upstreams[found.other]!.name}"; ${hint}`);
    }
  }
  return {
    tools: offered.flatMap((o) => o.tools),
    resources: offered.flatMap((o) => o.resources),
    prompts: offered.flatMap((o) => o.prompts),
    upstreams,
    listed,
    health: () => upstreams.map((upstream) => upstream.health()),
    close,
  };
}
