CREATE TABLE "bundle_access_policy" (
	"bundle_name" text PRIMARY KEY NOT NULL,
	"connection_ids" jsonb NOT NULL,
	"variable_keys" jsonb NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_by" text
);
