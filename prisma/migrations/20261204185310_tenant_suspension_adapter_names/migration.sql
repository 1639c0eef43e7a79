-- AlterTable
ALTER TABLE "tenants" ADD COLUMN     "suspended_at" TIMESTAMP(3);

-- CreateIndex
CREATE UNIQUE INDEX "adapters_tenant_id_name_key" ON "adapters"("tenant_id", "name");
