-- CreateSchema
CREATE SCHEMA IF NOT EXISTS "public";

-- CreateEnum
CREATE TYPE "ApiKeyRole" AS ENUM ('TENANT_ADMIN', 'MEMBER');

-- CreateEnum
CREATE TYPE "DatasetFormat" AS ENUM ('HH_RLHF', 'PKU_SAFERLHF', 'GENERIC');

-- CreateEnum
CREATE TYPE "DatasetStatus" AS ENUM ('EMPTY', 'READY', 'REJECTED');

-- CreateEnum
CREATE TYPE "DatasetSplit" AS ENUM ('TRAIN', 'VALIDATION', 'TEST');

-- CreateEnum
CREATE TYPE "ModelKind" AS ENUM ('BASE', 'ARM_BASE', 'EVALUATOR');

-- CreateEnum
CREATE TYPE "ModelFormat" AS ENUM ('GGUF', 'SAFETENSORS', 'ONNX');

-- CreateEnum
CREATE TYPE "AdapterMethod" AS ENUM ('PARM', 'GENARM');

-- CreateEnum
CREATE TYPE "JobKind" AS ENUM ('TRAIN', 'TRAIN_EVALUATOR', 'GENERATE', 'EVALUATE');

-- CreateEnum
CREATE TYPE "JobStatus" AS ENUM ('QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED');

-- CreateTable
CREATE TABLE "tenants" (
    "id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "max_concurrent_jobs" INTEGER NOT NULL DEFAULT 4,
    "max_dataset_bytes" BIGINT NOT NULL DEFAULT 1073741824,
    "mutations_per_minute" INTEGER NOT NULL DEFAULT 120,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "tenants_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "api_keys" (
    "id" UUID NOT NULL,
    "tenant_id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "prefix" TEXT NOT NULL,
    "secret_hash" TEXT NOT NULL,
    "role" "ApiKeyRole" NOT NULL,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "last_used_at" TIMESTAMP(3),
    "revoked_at" TIMESTAMP(3),

    CONSTRAINT "api_keys_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "preference_dimensions" (
    "id" UUID NOT NULL,
    "tenant_id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "description" TEXT NOT NULL DEFAULT '',
    "beta_r" DOUBLE PRECISION NOT NULL DEFAULT 0.01,
    "position" INTEGER NOT NULL,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "preference_dimensions_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "datasets" (
    "id" UUID NOT NULL,
    "tenant_id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "format" "DatasetFormat" NOT NULL,
    "status" "DatasetStatus" NOT NULL DEFAULT 'EMPTY',
    "dimension_map" JSONB NOT NULL,
    "split_ratios" JSONB NOT NULL,
    "record_count" INTEGER NOT NULL DEFAULT 0,
    "split_counts" JSONB,
    "byte_size" BIGINT NOT NULL DEFAULT 0,
    "sha256" TEXT,
    "validation_report" JSONB,
    "snapshot_key" TEXT,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "datasets_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "dataset_records" (
    "id" UUID NOT NULL,
    "tenant_id" UUID NOT NULL,
    "dataset_id" UUID NOT NULL,
    "line" INTEGER NOT NULL,
    "prompt" TEXT NOT NULL,
    "response_0" TEXT NOT NULL,
    "response_1" TEXT NOT NULL,
    "preferences" JSONB NOT NULL,
    "split" "DatasetSplit" NOT NULL,
    "pair_hash" TEXT NOT NULL,

    CONSTRAINT "dataset_records_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "models" (
    "id" UUID NOT NULL,
    "tenant_id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "kind" "ModelKind" NOT NULL,
    "format" "ModelFormat" NOT NULL,
    "location" TEXT NOT NULL,
    "sha256" TEXT,
    "size_bytes" BIGINT,
    "vocab_size" INTEGER,
    "tokenizer_hash" TEXT,
    "config" JSONB,
    "dimension_id" UUID,
    "job_id" UUID,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "models_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "adapters" (
    "id" UUID NOT NULL,
    "tenant_id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "method" "AdapterMethod" NOT NULL,
    "base_model_id" UUID NOT NULL,
    "dimension_ids" UUID[],
    "dimension_names" TEXT[],
    "r1" INTEGER NOT NULL,
    "r2" INTEGER NOT NULL,
    "lora_alpha" DOUBLE PRECISION NOT NULL,
    "targets" TEXT[],
    "training_config" JSONB NOT NULL,
    "metrics" JSONB,
    "artifact_digest" TEXT,
    "artifact_key" TEXT,
    "job_id" UUID,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "adapters_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "jobs" (
    "id" UUID NOT NULL,
    "tenant_id" UUID NOT NULL,
    "kind" "JobKind" NOT NULL,
    "status" "JobStatus" NOT NULL DEFAULT 'QUEUED',
    "payload" JSONB NOT NULL,
    "progress" DOUBLE PRECISION NOT NULL DEFAULT 0,
    "progress_detail" JSONB,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "error" TEXT,
    "cancel_requested" BOOLEAN NOT NULL DEFAULT false,
    "runner_id" TEXT,
    "last_event_seq" BIGINT NOT NULL DEFAULT 0,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "started_at" TIMESTAMP(3),
    "finished_at" TIMESTAMP(3),
    "updated_at" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "jobs_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "job_events" (
    "id" UUID NOT NULL,
    "tenant_id" UUID NOT NULL,
    "job_id" UUID NOT NULL,
    "seq" BIGINT NOT NULL,
    "type" TEXT NOT NULL,
    "payload" JSONB NOT NULL,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "job_events_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "generations" (
    "id" UUID NOT NULL,
    "tenant_id" UUID NOT NULL,
    "job_id" UUID NOT NULL,
    "base_model_id" UUID NOT NULL,
    "adapter_id" UUID,
    "prompt" TEXT NOT NULL,
    "alphas" JSONB NOT NULL,
    "beta" DOUBLE PRECISION NOT NULL,
    "sampling" JSONB NOT NULL,
    "max_tokens" INTEGER NOT NULL,
    "outputs" JSONB,
    "status" "JobStatus" NOT NULL DEFAULT 'QUEUED',
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "generations_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "evaluations" (
    "id" UUID NOT NULL,
    "tenant_id" UUID NOT NULL,
    "job_id" UUID NOT NULL,
    "adapter_id" UUID NOT NULL,
    "grid_step" DOUBLE PRECISION NOT NULL,
    "split" "DatasetSplit" NOT NULL DEFAULT 'TEST',
    "prompt_count" INTEGER NOT NULL,
    "evaluator_ids" UUID[],
    "reference_point" DOUBLE PRECISION[],
    "hypervolume" DOUBLE PRECISION,
    "mip" DOUBLE PRECISION,
    "report" JSONB,
    "status" "JobStatus" NOT NULL DEFAULT 'QUEUED',
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "evaluations_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "pareto_points" (
    "id" UUID NOT NULL,
    "tenant_id" UUID NOT NULL,
    "evaluation_id" UUID NOT NULL,
    "index" INTEGER NOT NULL,
    "alpha" DOUBLE PRECISION[],
    "rewards" DOUBLE PRECISION[],
    "on_front" BOOLEAN NOT NULL DEFAULT false,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "pareto_points_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "tenants_name_key" ON "tenants"("name");

-- CreateIndex
CREATE UNIQUE INDEX "api_keys_secret_hash_key" ON "api_keys"("secret_hash");

-- CreateIndex
CREATE INDEX "api_keys_tenant_id_created_at_idx" ON "api_keys"("tenant_id", "created_at");

-- CreateIndex
CREATE UNIQUE INDEX "preference_dimensions_tenant_id_name_key" ON "preference_dimensions"("tenant_id", "name");

-- CreateIndex
CREATE UNIQUE INDEX "preference_dimensions_tenant_id_position_key" ON "preference_dimensions"("tenant_id", "position");

-- CreateIndex
CREATE INDEX "datasets_tenant_id_created_at_idx" ON "datasets"("tenant_id", "created_at");

-- CreateIndex
CREATE UNIQUE INDEX "datasets_tenant_id_name_key" ON "datasets"("tenant_id", "name");

-- CreateIndex
CREATE UNIQUE INDEX "datasets_tenant_id_id_key" ON "datasets"("tenant_id", "id");

-- CreateIndex
CREATE INDEX "dataset_records_dataset_id_split_idx" ON "dataset_records"("dataset_id", "split");

-- CreateIndex
CREATE INDEX "dataset_records_tenant_id_idx" ON "dataset_records"("tenant_id");

-- CreateIndex
CREATE UNIQUE INDEX "dataset_records_dataset_id_line_key" ON "dataset_records"("dataset_id", "line");

-- CreateIndex
CREATE INDEX "models_tenant_id_kind_created_at_idx" ON "models"("tenant_id", "kind", "created_at");

-- CreateIndex
CREATE UNIQUE INDEX "models_tenant_id_name_key" ON "models"("tenant_id", "name");

-- CreateIndex
CREATE UNIQUE INDEX "models_tenant_id_id_key" ON "models"("tenant_id", "id");

-- CreateIndex
CREATE INDEX "adapters_tenant_id_created_at_idx" ON "adapters"("tenant_id", "created_at");

-- CreateIndex
CREATE INDEX "jobs_tenant_id_kind_status_created_at_idx" ON "jobs"("tenant_id", "kind", "status", "created_at");

-- CreateIndex
CREATE INDEX "jobs_tenant_id_created_at_idx" ON "jobs"("tenant_id", "created_at");

-- CreateIndex
CREATE INDEX "jobs_status_updated_at_idx" ON "jobs"("status", "updated_at");

-- CreateIndex
CREATE UNIQUE INDEX "jobs_tenant_id_id_key" ON "jobs"("tenant_id", "id");

-- CreateIndex
CREATE INDEX "job_events_tenant_id_idx" ON "job_events"("tenant_id");

-- CreateIndex
CREATE UNIQUE INDEX "job_events_job_id_seq_key" ON "job_events"("job_id", "seq");

-- CreateIndex
CREATE UNIQUE INDEX "generations_job_id_key" ON "generations"("job_id");

-- CreateIndex
CREATE INDEX "generations_tenant_id_created_at_idx" ON "generations"("tenant_id", "created_at");

-- CreateIndex
CREATE UNIQUE INDEX "evaluations_job_id_key" ON "evaluations"("job_id");

-- CreateIndex
CREATE INDEX "evaluations_tenant_id_created_at_idx" ON "evaluations"("tenant_id", "created_at");

-- CreateIndex
CREATE UNIQUE INDEX "evaluations_tenant_id_id_key" ON "evaluations"("tenant_id", "id");

-- CreateIndex
CREATE INDEX "pareto_points_tenant_id_idx" ON "pareto_points"("tenant_id");

-- CreateIndex
CREATE UNIQUE INDEX "pareto_points_evaluation_id_index_key" ON "pareto_points"("evaluation_id", "index");

-- AddForeignKey
ALTER TABLE "api_keys" ADD CONSTRAINT "api_keys_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "preference_dimensions" ADD CONSTRAINT "preference_dimensions_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "datasets" ADD CONSTRAINT "datasets_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "dataset_records" ADD CONSTRAINT "dataset_records_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "dataset_records" ADD CONSTRAINT "dataset_records_tenant_id_dataset_id_fkey" FOREIGN KEY ("tenant_id", "dataset_id") REFERENCES "datasets"("tenant_id", "id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "models" ADD CONSTRAINT "models_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "adapters" ADD CONSTRAINT "adapters_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "adapters" ADD CONSTRAINT "adapters_tenant_id_base_model_id_fkey" FOREIGN KEY ("tenant_id", "base_model_id") REFERENCES "models"("tenant_id", "id") ON DELETE NO ACTION ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "jobs" ADD CONSTRAINT "jobs_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "job_events" ADD CONSTRAINT "job_events_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "job_events" ADD CONSTRAINT "job_events_tenant_id_job_id_fkey" FOREIGN KEY ("tenant_id", "job_id") REFERENCES "jobs"("tenant_id", "id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "generations" ADD CONSTRAINT "generations_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "evaluations" ADD CONSTRAINT "evaluations_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "pareto_points" ADD CONSTRAINT "pareto_points_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "pareto_points" ADD CONSTRAINT "pareto_points_tenant_id_evaluation_id_fkey" FOREIGN KEY ("tenant_id", "evaluation_id") REFERENCES "evaluations"("tenant_id", "id") ON DELETE CASCADE ON UPDATE CASCADE;
