/**
 * @module gpu-runner/device/placement — which execution provider onnxruntime assigns each node of a model to.
 * onnxruntime reports it only in its verbose log (session_state.cc "Node placements"), which its native logger
 * writes to stderr, so the session is created in a child process whose stderr is parsed. Diagnostic only (the
 * WebGPU tests and docs/operations.md use it): it creates the session, it does not run it.
 */
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { onnx } from "../engine/index.ts";

type SerializedModel = onnx.SerializedModel;

/** Nodes per provider ("WebGpuExecutionProvider", "CPUExecutionProvider", …): count and "Op (name)" entries. */
export type NodePlacement = Record<string, { readonly count: number; readonly nodes: readonly string[] }>;

const SCRIPT = `
const ort = require(process.env.PARM_PLACEMENT_ORT);
ort.InferenceSession.create(process.env.PARM_PLACEMENT_MODEL, {
  executionProviders: [process.env.PARM_PLACEMENT_PROVIDER], graphOptimizationLevel: process.env.PARM_PLACEMENT_LEVEL,
  logSeverityLevel: 0, logVerbosityLevel: 0,
}).then((s) => s.release(), (e) => { console.error("PLACEMENT_FAILED " + String(e && e.message || e)); process.exitCode = 3; });
`;

/** Parses onnxruntime's verbose "Node placements" block. */
export function parseNodePlacement(log: string): NodePlacement {
  const out: Record<string, { count: number; nodes: string[] }> = {};
  let current: { count: number; nodes: string[] } | null = null;
  for (const line of log.split("\n")) {
    const all = /All nodes placed on \[(\w+)\]\. Number of nodes: (\d+)/.exec(line);
    if (all) {
      out[all[1]] = { count: Number(all[2]), nodes: [] };
      current = null;
      continue;
    }
    const some = /Node\(s\) placed on \[(\w+)\]\. Number of nodes: (\d+)/.exec(line);
    if (some) {
      current = out[some[1]] = { count: Number(some[2]), nodes: [] };
      continue;
    }
    const node = /VerifyEachNodeIsAssignedToAnEp\]\s{3}(\S.*)$/.exec(line);
    if (node && current) current.nodes.push(node[1].trim());
    else if (current && !/VerifyEachNodeIsAssignedToAnEp/.test(line)) current = null;
  }
  return out;
}

/** Creates a session for `model` on `provider` in a child process and returns its node placement. */
export async function nodePlacement(model: SerializedModel, provider: "cpu" | "webgpu" | "cuda", options: { graphOptimizationLevel?: "disabled" | "basic" | "extended" | "all"; timeoutMs?: number } = {}): Promise<NodePlacement> {
  const dir = await mkdtemp(join(tmpdir(), "parm-placement-"));
  try {
    const path = join(dir, "model.onnx");
    await writeFile(path, model.modelBytes);
    for (const f of model.externalData) await writeFile(join(dir, f.path), f.data);
    const env = {
      ...process.env,
      PARM_PLACEMENT_ORT: createRequire(import.meta.url).resolve("onnxruntime-node"),
      PARM_PLACEMENT_MODEL: path,
      PARM_PLACEMENT_PROVIDER: provider,
      PARM_PLACEMENT_LEVEL: options.graphOptimizationLevel ?? (model.usesFloat64 ? "basic" : "all"),
    };
    const stderr = await new Promise<string>((resolve, reject) =>
      execFile(process.execPath, ["-e", SCRIPT], { env, timeout: options.timeoutMs ?? 120_000, encoding: "utf8", maxBuffer: 1 << 28 }, (error, _stdout, err) => {
        const failed = /PLACEMENT_FAILED (.*)/.exec(err);
        if (error || failed) reject(new Error(`placement session on ${provider} failed: ${failed?.[1] ?? error?.message}`));
        else resolve(err);
      }),
    );
    return parseNodePlacement(stderr);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
