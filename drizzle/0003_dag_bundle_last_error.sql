ALTER TABLE "dag_bundle" ADD COLUMN "last_error" text;--> statement-breakpoint
ALTER TABLE "dag_bundle" ADD COLUMN "last_error_at" timestamp with time zone;