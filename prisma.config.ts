import "dotenv/config";
import { defineConfig, env } from "prisma/config";

// Prisma's native schema engine cannot be downloaded here; generate/validate/format only need
// some executable, and migrations run through @prisma/schema-engine-wasm (scripts/db-migrate.ts).
process.env.PRISMA_SCHEMA_ENGINE_BINARY ??= "/bin/false";
process.env.DATABASE_URL ??= "postgresql://parm@127.0.0.1:5432/parm";

export default defineConfig({
  schema: "prisma/schema.prisma",
  migrations: { path: "prisma/migrations" },
  datasource: { url: env("DATABASE_URL") },
});
