import { defineTool } from "../define.js";

/** Built in: who is calling, through which client, with which scopes. */
export const whoami = defineTool({
  name: "whoami",
  title: "Who am I",
  description: "Returns the signed-in user's email and id, the client's name and the granted scopes.",
  annotations: { readOnlyHint: true, idempotentHint: true },
  handler(_args, ctx) {
    const identity = {
      user: { id: ctx.user.id, email: ctx.user.email },
      client: { id: ctx.client.id, name: ctx.client.name },
      scopes: ctx.scopes,
    };
    return {
      content: [{ type: "text", text: JSON.stringify(identity) }],
      structuredContent: identity,
    };
  },
});
