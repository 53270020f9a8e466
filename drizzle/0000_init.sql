CREATE TABLE "audit_log" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "audit_log_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"dttm" timestamp with time zone DEFAULT now() NOT NULL,
	"event" text NOT NULL,
	"owner" text,
	"bundle_name" text,
	"relative_fileloc" text,
	"dag_id" text,
	"extra" jsonb
);
--> statement-breakpoint
CREATE TABLE "callback_request" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "callback_request_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"priority_weight" integer DEFAULT 1 NOT NULL,
	"dag_id" text NOT NULL,
	"bundle_name" text,
	"relative_fileloc" text,
	"callback_type" text DEFAULT 'failure' NOT NULL,
	"run_id" text,
	"msg" text,
	"context" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"claimed_by_job_id" bigint,
	"lease_expires_at" timestamp with time zone,
	"attempts" integer DEFAULT 0 NOT NULL,
	CONSTRAINT "callback_request_type_ck" CHECK ("callback_request"."callback_type" in ('failure', 'success'))
);
--> statement-breakpoint
CREATE TABLE "connection" (
	"id" serial PRIMARY KEY NOT NULL,
	"conn_id" text NOT NULL,
	"conn_type" text NOT NULL,
	"description" text,
	"host" text,
	"port" integer,
	"login" text,
	"password" text,
	"schema" text,
	"extra" jsonb,
	CONSTRAINT "connection_conn_id_unique" UNIQUE("conn_id")
);
--> statement-breakpoint
CREATE TABLE "dag" (
	"dag_id" text PRIMARY KEY NOT NULL,
	"bundle_name" text NOT NULL,
	"relative_fileloc" text NOT NULL,
	"bundle_version" text,
	"is_stale" boolean DEFAULT false NOT NULL,
	"is_paused" boolean DEFAULT false NOT NULL,
	"last_parsed_time" timestamp with time zone NOT NULL,
	"description" text,
	"timetable_summary" text,
	"tags" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"owners" text,
	"has_import_errors" boolean DEFAULT false NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "dag_bundle" (
	"name" text PRIMARY KEY NOT NULL,
	"kind" text DEFAULT 'local' NOT NULL,
	"active" boolean DEFAULT true NOT NULL,
	"processor_group" text,
	"version" text,
	"last_refreshed" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "dag_code" (
	"id" uuid PRIMARY KEY NOT NULL,
	"dag_version_id" uuid NOT NULL,
	"dag_id" text NOT NULL,
	"bundle_name" text NOT NULL,
	"relative_fileloc" text NOT NULL,
	"source_code" text NOT NULL,
	"source_code_hash" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_updated" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "dag_priority_parsing_request" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "dag_priority_parsing_request_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"bundle_name" text NOT NULL,
	"relative_fileloc" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"claimed_by_job_id" bigint,
	"lease_expires_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "dag_version" (
	"id" uuid PRIMARY KEY NOT NULL,
	"dag_id" text NOT NULL,
	"version_number" integer NOT NULL,
	"bundle_name" text NOT NULL,
	"bundle_version" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "dag_warning" (
	"dag_id" text NOT NULL,
	"warning_type" text NOT NULL,
	"message" text NOT NULL,
	"timestamp" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "dag_warning_dag_id_warning_type_pk" PRIMARY KEY("dag_id","warning_type")
);
--> statement-breakpoint
CREATE TABLE "import_error" (
	"id" serial PRIMARY KEY NOT NULL,
	"bundle_name" text NOT NULL,
	"filename" text NOT NULL,
	"stacktrace" text NOT NULL,
	"timestamp" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "job" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "job_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"job_type" text NOT NULL,
	"state" text NOT NULL,
	"hostname" text NOT NULL,
	"unixname" text NOT NULL,
	"pid" integer NOT NULL,
	"start_date" timestamp with time zone DEFAULT now() NOT NULL,
	"end_date" timestamp with time zone,
	"latest_heartbeat" timestamp with time zone DEFAULT now() NOT NULL,
	"registration_id" uuid
);
--> statement-breakpoint
CREATE TABLE "parsed_file" (
	"bundle_name" text NOT NULL,
	"relative_fileloc" text NOT NULL,
	"parse_id" uuid,
	"parse_started_at" timestamp with time zone NOT NULL,
	"parse_finished_at" timestamp with time zone NOT NULL,
	"content_hash" text,
	"dag_ids" jsonb DEFAULT '[]'::jsonb NOT NULL,
	CONSTRAINT "parsed_file_bundle_name_relative_fileloc_pk" PRIMARY KEY("bundle_name","relative_fileloc")
);
--> statement-breakpoint
CREATE TABLE "serialized_dag" (
	"id" uuid PRIMARY KEY NOT NULL,
	"dag_version_id" uuid NOT NULL,
	"dag_id" text NOT NULL,
	"data" jsonb NOT NULL,
	"dag_hash" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_updated" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "variable" (
	"id" serial PRIMARY KEY NOT NULL,
	"key" text NOT NULL,
	"val" text NOT NULL,
	"description" text,
	CONSTRAINT "variable_key_unique" UNIQUE("key")
);
--> statement-breakpoint
ALTER TABLE "dag" ADD CONSTRAINT "dag_bundle_name_dag_bundle_name_fk" FOREIGN KEY ("bundle_name") REFERENCES "public"."dag_bundle"("name") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "dag_code" ADD CONSTRAINT "dag_code_dag_version_id_dag_version_id_fk" FOREIGN KEY ("dag_version_id") REFERENCES "public"."dag_version"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "dag_version" ADD CONSTRAINT "dag_version_dag_id_dag_dag_id_fk" FOREIGN KEY ("dag_id") REFERENCES "public"."dag"("dag_id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "dag_warning" ADD CONSTRAINT "dag_warning_dag_id_dag_dag_id_fk" FOREIGN KEY ("dag_id") REFERENCES "public"."dag"("dag_id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "serialized_dag" ADD CONSTRAINT "serialized_dag_dag_version_id_dag_version_id_fk" FOREIGN KEY ("dag_version_id") REFERENCES "public"."dag_version"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "audit_log_dttm_idx" ON "audit_log" USING btree ("dttm");--> statement-breakpoint
CREATE INDEX "callback_request_queue_idx" ON "callback_request" USING btree ("priority_weight","created_at");--> statement-breakpoint
CREATE INDEX "dag_bundle_file_idx" ON "dag" USING btree ("bundle_name","relative_fileloc");--> statement-breakpoint
CREATE UNIQUE INDEX "dag_code_version_uq" ON "dag_code" USING btree ("dag_version_id");--> statement-breakpoint
CREATE INDEX "dag_priority_parsing_request_queue_idx" ON "dag_priority_parsing_request" USING btree ("bundle_name","created_at");--> statement-breakpoint
CREATE UNIQUE INDEX "dag_version_dag_number_uq" ON "dag_version" USING btree ("dag_id","version_number");--> statement-breakpoint
CREATE UNIQUE INDEX "import_error_file_uq" ON "import_error" USING btree ("bundle_name","filename");--> statement-breakpoint
CREATE UNIQUE INDEX "job_registration_uq" ON "job" USING btree ("registration_id");--> statement-breakpoint
CREATE INDEX "job_type_state_heartbeat_idx" ON "job" USING btree ("job_type","state","latest_heartbeat");--> statement-breakpoint
CREATE UNIQUE INDEX "serialized_dag_version_uq" ON "serialized_dag" USING btree ("dag_version_id");--> statement-breakpoint
CREATE INDEX "serialized_dag_dag_idx" ON "serialized_dag" USING btree ("dag_id");