/**
 * Gateway mode: Gatehouse in front of existing MCP servers. `startGateway`
 * connects to each configured upstream, lists its tools and returns them as
 * tool definitions for the registry; `close` stops every upstream (and each
 * stdio server's whole process group).
 *
 * An upstream that cannot be reached at start-up does not stop Gatehouse:
 * it is logged, reported as `down` on /readyz, and its tools are absent
 * until the next start (tools appearing later need list-changed
 * notifications, left for later).
 */
import { ConfigError } from "../config.js";
import type { Logger } from "../logger.js";
import type { ToolDefinition } from "../mcp/define.js";
import type { UpstreamConfig } from "./config.js";
import type { IdentityTokenSigner } from "./identity-token.js";
import { proxiedTools } from "./tools.js";
import { Upstream, type UpstreamHealth } from "./upstream.js";

export interface Gateway {
  tools: ToolDefinition[];
  upstreams: Upstream[];
  health(): UpstreamHealth[];
  close(): Promise<void>;
}

export async function startGateway(configs: UpstreamConfig[], logger: Logger, tokens?: IdentityTokenSigner): Promise<Gateway> {
  const upstreams = configs.map((config) => new Upstream(config, logger, tokens));
  const listed = await Promise.all(
    upstreams.map(async (upstream) => {
      try {
        return proxiedTools(upstream, await upstream.listTools());
      } catch (error) {
        logger.error("upstream unavailable at start: its tools are not offered", { upstream: upstream.name, error: (error as Error).message });
        return [];
      }
    }),
  );
  const close = async () => {
    await Promise.all(upstreams.map((upstream) => upstream.close()));
  };
  const tools = listed.flat();
  const owner = new Map<string, string>();
  for (const [i, list] of listed.entries()) {
    for (const tool of list) {
      const other = owner.get(tool.name);
      if (other !== undefined) {
        await close();
        throw new ConfigError(`upstreams[${i}].prefix`, `the tool "${tool.name}" is also offered by upstream "${other}"; give one of them a prefix`);
      }
      owner.set(tool.name, upstreams[i]!.name);
    }
  }
  return { tools, upstreams, health: () => upstreams.map((upstream) => upstream.health()), close };
}
