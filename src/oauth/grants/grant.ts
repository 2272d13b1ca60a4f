import type { OAuthClient } from "../clients.js";
import type { TokenResponse } from "../tokens.js";

export interface GrantRequest {
  client: OAuthClient;
  /** Only the parameters this grant declares (the token endpoint drops the rest). */
  params: Map<string, string>;
}

/** A grant type: what it reads and how it answers. The token endpoint dispatches on `grantType`. */
export interface Grant {
  grantType: string;
  parameters: readonly string[];
  handle(request: GrantRequest): Promise<TokenResponse>;
}
