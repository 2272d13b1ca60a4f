/**
 * An upstream's resources and resource templates as Gatehouse resources.
 * URIs stay as the upstream gives them — a client reads the URI it listed,
 * and a URI in a tool result or a resource link still resolves — so two
 * upstreams offering one URI (or one URI template) stop start-up, as two
 * tools with one name do. Names take the upstream's prefix; `scopes` and the
 * `resources` allow/deny lists (by URI or URI template) apply as for tools.
 * Reads are forwarded with the caller's identity and go through the SDK.
 */
import type { Resource, ResourceTemplateType } from "@modelcontextprotocol/client";
import type { ResourceDefinition } from "../mcp/define.js";
import { allowed, exposedName } from "./config.js";
import { callerOf } from "./tools.js";
import { upstreamFailure } from "./upstream-errors.js";
import type { Upstream } from "./upstream.js";

function proxiedResource(upstream: Upstream, resource: Resource | ResourceTemplateType, uri: string): ResourceDefinition {
  const { config } = upstream;
  return {
    name: exposedName(config, resource.name),
    uri,
    ...(resource.title ? { title: resource.title } : {}),
    ...(resource.description ? { description: resource.description } : {}),
    ...(resource.mimeType ? { mimeType: resource.mimeType } : {}),
    ...(config.scopes?.length ? { scopes: config.scopes } : {}),
    sdkDispatch: true,
    async read(url, ctx) {
      try {
        return await upstream.readResource(url.href, callerOf(ctx), ctx.signal);
      } catch (error) {
        throw upstreamFailure(upstream.name, error);
      }
    },
  };
}

/** The resources and templates an upstream exposes through Gatehouse, after allow/deny. */
export function proxiedResources(upstream: Upstream, resources: Resource[], templates: ResourceTemplateType[]): ResourceDefinition[] {
  const filter = upstream.config.resources;
  return [
    ...resources.filter((r) => allowed(filter, r.uri)).map((r) => proxiedResource(upstream, r, r.uri)),
    ...templates.filter((t) => allowed(filter, t.uriTemplate)).map((t) => proxiedResource(upstream, t, t.uriTemplate)),
  ];
}
