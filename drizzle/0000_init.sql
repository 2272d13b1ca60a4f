CREATE TABLE "console_sessions" (
	"id_hash" text PRIMARY KEY NOT NULL,
	"user_id" text NOT NULL,
	"csrf_secret" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "kv_store_entries" (
	"key" text PRIMARY KEY NOT NULL,
	"value" text NOT NULL,
	"expires_at" bigint
);
--> statement-breakpoint
CREATE TABLE "mcp_sessions" (
	"id" text PRIMARY KEY NOT NULL,
	"user_id" text NOT NULL,
	"client_id" text NOT NULL,
	"protocol_version" text NOT NULL,
	"client_info" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"client_capabilities" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_seen_at" timestamp with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "oauth_access_tokens" (
	"token_hash" text PRIMARY KEY NOT NULL,
	"connection_id" text NOT NULL,
	"user_id" text NOT NULL,
	"client_id" text NOT NULL,
	"scopes" jsonb NOT NULL,
	"resource" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "oauth_clients" (
	"client_id" text PRIMARY KEY NOT NULL,
	"source" text NOT NULL,
	"client_secret_hash" text,
	"client_secret_expires_at" timestamp with time zone,
	"token_endpoint_auth_method" text NOT NULL,
	"redirect_uris" jsonb NOT NULL,
	"grant_types" jsonb NOT NULL,
	"response_types" jsonb NOT NULL,
	"client_name" text,
	"metadata" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"metadata_hash" text,
	"registered_from_ip" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_used_at" timestamp with time zone,
	"refresh_after" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "oauth_retired_refresh_tokens" (
	"token_hash" text PRIMARY KEY NOT NULL,
	"connection_id" text NOT NULL,
	"retired_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "rate_limits" (
	"key" text PRIMARY KEY NOT NULL,
	"points" integer DEFAULT 0 NOT NULL,
	"expire" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "user_api_tokens" (
	"id" text PRIMARY KEY NOT NULL,
	"user_id" text NOT NULL,
	"oauth_client_id" text,
	"name" text NOT NULL,
	"token_hash" text NOT NULL,
	"previous_token_hash" text,
	"generation" integer DEFAULT 0 NOT NULL,
	"grace_response" text,
	"grace_until" timestamp with time zone,
	"scopes" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"resource" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_used_at" timestamp with time zone,
	"rotated_at" timestamp with time zone,
	"expires_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "users" (
	"id" text PRIMARY KEY NOT NULL,
	"email" text NOT NULL,
	"password_hash" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "console_sessions" ADD CONSTRAINT "console_sessions_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "mcp_sessions" ADD CONSTRAINT "mcp_sessions_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "oauth_access_tokens" ADD CONSTRAINT "oauth_access_tokens_connection_id_user_api_tokens_id_fk" FOREIGN KEY ("connection_id") REFERENCES "public"."user_api_tokens"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "oauth_retired_refresh_tokens" ADD CONSTRAINT "oauth_retired_refresh_tokens_connection_id_user_api_tokens_id_fk" FOREIGN KEY ("connection_id") REFERENCES "public"."user_api_tokens"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "user_api_tokens" ADD CONSTRAINT "user_api_tokens_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "user_api_tokens" ADD CONSTRAINT "user_api_tokens_oauth_client_id_oauth_clients_client_id_fk" FOREIGN KEY ("oauth_client_id") REFERENCES "public"."oauth_clients"("client_id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "console_sessions_user_idx" ON "console_sessions" USING btree ("user_id");--> statement-breakpoint
CREATE INDEX "console_sessions_expires_idx" ON "console_sessions" USING btree ("expires_at");--> statement-breakpoint
CREATE INDEX "kv_store_entries_key_pattern_idx" ON "kv_store_entries" USING btree ("key" text_pattern_ops);--> statement-breakpoint
CREATE INDEX "kv_store_entries_expires_idx" ON "kv_store_entries" USING btree ("expires_at");--> statement-breakpoint
CREATE INDEX "mcp_sessions_user_client_idx" ON "mcp_sessions" USING btree ("user_id","client_id");--> statement-breakpoint
CREATE INDEX "mcp_sessions_expires_idx" ON "mcp_sessions" USING btree ("expires_at");--> statement-breakpoint
CREATE INDEX "oauth_access_tokens_connection_idx" ON "oauth_access_tokens" USING btree ("connection_id");--> statement-breakpoint
CREATE INDEX "oauth_access_tokens_expires_idx" ON "oauth_access_tokens" USING btree ("expires_at");--> statement-breakpoint
CREATE UNIQUE INDEX "oauth_clients_metadata_hash_key" ON "oauth_clients" USING btree ("metadata_hash") WHERE "oauth_clients"."metadata_hash" IS NOT NULL;--> statement-breakpoint
CREATE INDEX "oauth_clients_last_used_idx" ON "oauth_clients" USING btree ("source","last_used_at");--> statement-breakpoint
CREATE INDEX "oauth_retired_refresh_tokens_connection_idx" ON "oauth_retired_refresh_tokens" USING btree ("connection_id");--> statement-breakpoint
CREATE INDEX "oauth_retired_refresh_tokens_retired_idx" ON "oauth_retired_refresh_tokens" USING btree ("retired_at");--> statement-breakpoint
CREATE UNIQUE INDEX "user_api_tokens_token_hash_key" ON "user_api_tokens" USING btree ("token_hash");--> statement-breakpoint
CREATE INDEX "user_api_tokens_previous_token_hash_idx" ON "user_api_tokens" USING btree ("previous_token_hash");--> statement-breakpoint
CREATE INDEX "user_api_tokens_user_idx" ON "user_api_tokens" USING btree ("user_id");--> statement-breakpoint
CREATE UNIQUE INDEX "user_api_tokens_connection_key" ON "user_api_tokens" USING btree ("user_id","oauth_client_id") WHERE "user_api_tokens"."oauth_client_id" IS NOT NULL;--> statement-breakpoint
CREATE UNIQUE INDEX "users_email_key" ON "users" USING btree ("email");