ALTER TABLE "parsed_file" ADD COLUMN "result_hash" text;--> statement-breakpoint
ALTER TABLE "parsed_file" ADD COLUMN "dag_versions" jsonb;--> statement-breakpoint
ALTER TABLE "parsed_file" ADD COLUMN "settled" boolean DEFAULT false NOT NULL;