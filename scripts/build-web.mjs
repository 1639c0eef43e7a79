#!/usr/bin/env node
// Builds the admin console (web/) into web/dist, which the api serves at `/`:
//   1. prints the GraphQL schema from code (scripts/print-schema.ts → web/schema.graphql) and the API's input
//      defaults (→ web/src/generated/input-defaults.ts);
//   2. generates the typed operations (GraphQL Code Generator client preset, web/codegen.ts → web/src/gql/);
//   3. typechecks web/ (strict, web/tsconfig.json);
//   4. bundles it with Vite (web/vite.config.ts → web/dist).
// Flags:
//   --if-stale   skip steps 2–4 when web/dist/.build-stamp matches a hash of their inputs (web sources and
//                configs, the printed schema, package-lock.json): `npm start` rebuilds only after a change.
//   --codegen    steps 1–2 only (for `npm run typecheck`).
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const web = join(root, "web");
const dist = join(web, "dist");
const stampFile = join(dist, ".build-stamp");
const args = new Set(process.argv.slice(2));
const bin = (name) => join(root, "node_modules", ".bin", name);

function run(what, command, commandArgs) {
  const started = Date.now();
  const result = spawnSync(command, commandArgs, { cwd: root, stdio: "inherit", env: process.env });
  if (result.status !== 0) {
    console.error(`[build-web] ${what} failed (exit ${result.status ?? result.signal})`);
    process.exit(result.status ?? 1);
  }
  console.log(`[build-web] ${what}: ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

function inputsHash() {
  const hash = createHash("sha256");
  const skip = new Set(["dist", "node_modules", "gql"]);
  const walk = (dir) => {
    for (const name of readdirSync(dir).sort()) {
      if (skip.has(name)) continue;
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else {
        hash.update(relative(root, path));
        hash.update(readFileSync(path));
      }
    }
  };
  walk(web);
  for (const file of ["package-lock.json", "scripts/build-web.mjs"]) {
    if (existsSync(join(root, file))) hash.update(readFileSync(join(root, file)));
  }
  return hash.digest("hex");
}

run("schema", process.execPath, [
  "--import",
  "@swc-node/register/esm-register",
  "scripts/print-schema.ts",
  "web/schema.graphql",
  "web/src/generated/input-defaults.ts",
]);

const stamp = inputsHash();
if (args.has("--if-stale") && !args.has("--codegen") && existsSync(join(dist, "index.html")) && existsSync(stampFile)) {
  if (readFileSync(stampFile, "utf8").trim() === stamp) {
    console.log("[build-web] web/dist is up to date");
    process.exit(0);
  }
}

run("codegen", bin("graphql-codegen"), ["--config", "web/codegen.ts"]);
if (args.has("--codegen")) process.exit(0);
run("typecheck web", bin("tsc"), ["-p", "web/tsconfig.json"]);
run("vite build", bin("vite"), ["build", "--config", "web/vite.config.ts", "--logLevel", "warn"]);

// First-page JavaScript: the entry chunk and what index.html preloads (the sign-in page is in the entry).
const html = readFileSync(join(dist, "index.html"), "utf8");
const scripts = [...html.matchAll(/(?:src|href)="\/(assets\/[^"]+\.js)"/g)].map((m) => m[1]);
const { gzipSync } = await import("node:zlib");
let raw = 0;
let gz = 0;
for (const s of scripts) {
  const body = readFileSync(join(dist, s));
  raw += body.length;
  gz += gzipSync(body, { level: 9 }).length;
}
console.log(`[build-web] first page JS: ${scripts.length} file(s), ${(raw / 1024).toFixed(1)} KiB, ${(gz / 1024).toFixed(1)} KiB gzip`);
writeFileSync(stampFile, stamp + "\n");
