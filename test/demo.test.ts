/** @module test/demo — the README's first command: `npm run demo` starts the platform as `npm start` does and runs
 *  the main job (train, generate, evaluate) through the public API; it must exit 0 and report each step. */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const REPO = fileURLToPath(new URL("../", import.meta.url));

describe("npm run demo", () => {
  it("starts the platform on embedded defaults and trains, generates and evaluates through the API", { timeout: 600_000 }, async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, PARM_DEMO_STEPS: "4", PARM_DEMO_PROMPTS: "2" };
    for (const name of ["DATABASE_URL", "DATABASE_APP_URL", "NATS_URL", "PARM_ADMIN_KEY", "PARM_DATA_DIR"]) delete env[name];
    const child = spawn(process.execPath, ["--import", "@swc-node/register/esm-register", "scripts/demo.ts"], { cwd: REPO, env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (c: Buffer) => (out += c.toString("utf8")));
    child.stderr.on("data", (c: Buffer) => (out += c.toString("utf8")));
    const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
    assert.equal(code, 0, out);
    assert.match(out, /dataset hh-helpful: \d+ pairs accepted/);
    assert.match(out, /training PARM \(4 updates\): SUCCEEDED/);
    assert.equal((out.match(/^ {2}α = \(/gm) ?? []).length, 6, "three generations and three Pareto points");
    assert.match(out, /hypervolume \d/);
    assert.match(out, /the main job succeeded/);
  });
});
