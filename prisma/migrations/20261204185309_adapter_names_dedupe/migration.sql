-- Hand-written, runs before the next migration makes adapter names unique per tenant (docs/database.md):
-- every duplicate name but the oldest row's becomes "<name> (<first 8 hex digits of its id>)", the way a
-- TRAIN / TRAIN_EVALUATOR job that completes under a taken name is named (api/services/job-events.ts).
UPDATE "adapters" AS a
   SET "name" = a."name" || ' (' || left(a."id"::text, 8) || ')'
 WHERE EXISTS (
   SELECT 1 FROM "adapters" AS b
    WHERE b."tenant_id" = a."tenant_id" AND b."name" = a."name"
      AND (b."created_at", b."id") < (a."created_at", a."id"));
