-- AlterTable
ALTER TABLE "tenants" ADD COLUMN     "job_limits" JSONB;
