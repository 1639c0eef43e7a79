-- AlterTable
ALTER TABLE "tenants" ADD COLUMN     "max_model_bytes" BIGINT NOT NULL DEFAULT 4294967296;

-- AlterTable
ALTER TABLE "models" ADD COLUMN     "stored_bytes" BIGINT;
