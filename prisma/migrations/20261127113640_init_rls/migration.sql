-- Row-level security for the tables created by the previous migration (contract: src/api/db/rls.ts).
-- RLS: tenants
ALTER TABLE "tenants" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "tenants" FORCE ROW LEVEL SECURITY;
CREATE POLICY "tenant_self_read" ON "tenants" FOR SELECT
  USING ("id" = NULLIF(current_setting('app.tenant_id', true), '')::uuid);
CREATE POLICY "owner_access" ON "tenants" TO CURRENT_USER USING (true) WITH CHECK (true);

-- RLS: api_keys
ALTER TABLE "api_keys" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "api_keys" FORCE ROW LEVEL SECURITY;
CREATE POLICY "tenant_isolation" ON "api_keys"
  USING ("tenant_id" = NULLIF(current_setting('app.tenant_id', true), '')::uuid)
  WITH CHECK ("tenant_id" = NULLIF(current_setting('app.tenant_id', true), '')::uuid);
CREATE POLICY "owner_access" ON "api_keys" TO CURRENT_USER USING (true) WITH CHECK (true);

-- RLS: preference_dimensions
ALTER TABLE "preference_dimensions" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "preference_dimensions" FORCE ROW LEVEL SECURITY;
CREATE POLICY "tenant_isolation" ON "preference_dimensions"
  USING ("tenant_id" = NULLIF(current_setting('app.tenant_id', true), '')::uuid)
  WITH CHECK ("tenant_id" = NULLIF(current_setting('app.tenant_id', true), '')::uuid);
CREATE POLICY "owner_access" ON "preference_dimensions" TO CURRENT_USER USING (true) WITH CHECK (true);

-- RLS: datasets
ALTER TABLE "datasets" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "datasets" FORCE ROW LEVEL SECURITY;
CREATE POLICY "tenant_isolation" ON "datasets"
  USING ("tenant_id" = NULLIF(current_setting('app.tenant_id', true), '')::uuid)
  WITH CHECK ("tenant_id" = NULLIF(current_setting('app.tenant_id', true), '')::uuid);
CREATE POLICY "owner_access" ON "datasets" TO CURRENT_USER USING (true) WITH CHECK (true);

-- RLS: dataset_records
ALTER TABLE "dataset_records" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "dataset_records" FORCE ROW LEVEL SECURITY;
CREATE POLICY "tenant_isolation" ON "dataset_records"
  USING ("tenant_id" = NULLIF(current_setting('app.tenant_id', true), '')::uuid)
  WITH CHECK ("tenant_id" = NULLIF(current_setting('app.tenant_id', true), '')::uuid);
CREATE POLICY "owner_access" ON "dataset_records" TO CURRENT_USER USING (true) WITH CHECK (true);

-- RLS: models
ALTER TABLE "models" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "models" FORCE ROW LEVEL SECURITY;
CREATE POLICY "tenant_isolation" ON "models"
  USING ("tenant_id" = NULLIF(current_setting('app.tenant_id', true), '')::uuid)
  WITH CHECK ("tenant_id" = NULLIF(current_setting('app.tenant_id', true), '')::uuid);
CREATE POLICY "owner_access" ON "models" TO CURRENT_USER USING (true) WITH CHECK (true);

-- RLS: adapters
ALTER TABLE "adapters" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "adapters" FORCE ROW LEVEL SECURITY;
CREATE POLICY "tenant_isolation" ON "adapters"
  USING ("tenant_id" = NULLIF(current_setting('app.tenant_id', true), '')::uuid)
  WITH CHECK ("tenant_id" = NULLIF(current_setting('app.tenant_id', true), '')::uuid);
CREATE POLICY "owner_access" ON "adapters" TO CURRENT_USER USING (true) WITH CHECK (true);

-- RLS: jobs
ALTER TABLE "jobs" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "jobs" FORCE ROW LEVEL SECURITY;
CREATE POLICY "tenant_isolation" ON "jobs"
  USING ("tenant_id" = NULLIF(current_setting('app.tenant_id', true), '')::uuid)
  WITH CHECK ("tenant_id" = NULLIF(current_setting('app.tenant_id', true), '')::uuid);
CREATE POLICY "owner_access" ON "jobs" TO CURRENT_USER USING (true) WITH CHECK (true);

-- RLS: job_events
ALTER TABLE "job_events" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "job_events" FORCE ROW LEVEL SECURITY;
CREATE POLICY "tenant_isolation" ON "job_events"
  USING ("tenant_id" = NULLIF(current_setting('app.tenant_id', true), '')::uuid)
  WITH CHECK ("tenant_id" = NULLIF(current_setting('app.tenant_id', true), '')::uuid);
CREATE POLICY "owner_access" ON "job_events" TO CURRENT_USER USING (true) WITH CHECK (true);

-- RLS: generations
ALTER TABLE "generations" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "generations" FORCE ROW LEVEL SECURITY;
CREATE POLICY "tenant_isolation" ON "generations"
  USING ("tenant_id" = NULLIF(current_setting('app.tenant_id', true), '')::uuid)
  WITH CHECK ("tenant_id" = NULLIF(current_setting('app.tenant_id', true), '')::uuid);
CREATE POLICY "owner_access" ON "generations" TO CURRENT_USER USING (true) WITH CHECK (true);

-- RLS: evaluations
ALTER TABLE "evaluations" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "evaluations" FORCE ROW LEVEL SECURITY;
CREATE POLICY "tenant_isolation" ON "evaluations"
  USING ("tenant_id" = NULLIF(current_setting('app.tenant_id', true), '')::uuid)
  WITH CHECK ("tenant_id" = NULLIF(current_setting('app.tenant_id', true), '')::uuid);
CREATE POLICY "owner_access" ON "evaluations" TO CURRENT_USER USING (true) WITH CHECK (true);

-- RLS: pareto_points
ALTER TABLE "pareto_points" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "pareto_points" FORCE ROW LEVEL SECURITY;
CREATE POLICY "tenant_isolation" ON "pareto_points"
  USING ("tenant_id" = NULLIF(current_setting('app.tenant_id', true), '')::uuid)
  WITH CHECK ("tenant_id" = NULLIF(current_setting('app.tenant_id', true), '')::uuid);
CREATE POLICY "owner_access" ON "pareto_points" TO CURRENT_USER USING (true) WITH CHECK (true);
