#!/usr/bin/env bash
# The GPU device check (issue 15 item 6): on a GPU host, in under 5 minutes, report which execution providers load
# and measure guided decoding and a train step on a TinyLlama-1.1B-shaped synthetic model on the GPU against the
# host's CPU, writing one JSON report, $OUT_DIR/device-check.json.
#
# Runs from the repository root. With bench/out/gpu-bundle.tar.xz (bench/gpu/build-bundle.sh) it needs nothing on
# the host but the GPU driver: the bundle brings Node, onnxruntime-node and the Vulkan loader. Without it, it uses
# the repository's node and node_modules.
#   bench/gpu/device-check.sh [OUT_DIR]          (default: $OUT, else bench/out)
# Environment: SHAPE (tinyllama | small), QUANT (q4 | q8 | none), TOKENS (16), ALLOW_SOFTWARE=1 (a software Vulkan
# adapter counts as the GPU: only for trying the script on lavapipe).
set -uo pipefail
cd "$(dirname "$0")/../.."
out=${1:-${OUT:-bench/out}}
mkdir -p "$out"
shape=${SHAPE:-tinyllama}
quant=${QUANT:-q4}
tokens=${TOKENS:-16}
started=$(date +%s)
log="$out/device-check.log"
: >"$log"

if [ -f bench/out/gpu-bundle.tar.xz ]; then
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  tar -xJf bench/out/gpu-bundle.tar.xz -C "$work"
  node=("$work/gpu-bundle/bin/node")
  js() { echo "$work/gpu-bundle/js/$1.mjs"; }
  ldconfig -p 2>/dev/null | grep -q 'libvulkan\.so\.1 ' || export LD_LIBRARY_PATH="$work/gpu-bundle/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
else
  node=(node --import @swc-node/register/esm-register)
  js() { echo "bench/gpu/$1.ts"; }
fi

# run NAME TIMEOUT_S PROVIDER SCRIPT ARGS...: the script's JSON lines go to $out/NAME.jsonl, its stderr to the log.
run() {
  local name=$1 limit=$2 provider=$3 script=$4
  shift 4
  echo "== $name ($provider, ${limit}s)" >>"$log"
  PARM_EXECUTION_PROVIDER=$provider PARM_WEBGPU_ALLOW_SOFTWARE=${ALLOW_SOFTWARE:-0} \
    timeout "$limit" "${node[@]}" "$(js "$script")" "$@" >"$out/$name.jsonl" 2>>"$log"
  echo "$name exit $?" >>"$log"
}

# Time limits add up to under 5 minutes (280 s) whatever hangs.
run providers 30 auto providers
gpu=$("${node[@]}" -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").pop() || "{}");
  const soft = process.env.ALLOW_SOFTWARE === "1";
  console.log(r.cuda?.ok ? "cuda" : r.webgpuHardware?.ok || (soft && r.webgpuSoftware?.ok) ? "webgpu" : "");
' "$out/providers.jsonl" 2>>"$log")

if [ -n "$gpu" ]; then
  run decode-gpu 80 "$gpu" decode-step --shape "$shape" --quant "$quant" --tokens "$tokens"
  run decode-gpu-device 45 "$gpu" decode-step --shape "$shape" --tokens "$tokens" --workloads parm2-device
fi
run decode-cpu 55 cpu decode-step --shape "$shape" --quant "$quant" --tokens $((tokens / 2)) --workloads base,parm2,genarm2,sweep11
[ -n "$gpu" ] && run train-gpu 35 "$gpu" train-step --shape "$shape" --pairs 1 --seq 64 --steps 2
run train-cpu 35 cpu train-step --shape "$shape" --pairs 1 --seq 64 --steps 1

"${node[@]}" -e '
  const fs = require("fs");
  const [out, gpu, started, shape, quant] = process.argv.slice(1);
  const lines = (name) => { try { return fs.readFileSync(`${out}/${name}.jsonl`, "utf8").split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l)); } catch { return []; } };
  const decode = { gpu: lines("decode-gpu"), gpuDeviceResident: lines("decode-gpu-device"), cpu: lines("decode-cpu") };
  const train = { gpu: lines("train-gpu")[0] ?? null, cpu: lines("train-cpu")[0] ?? null };
  const tps = (rows, w) => rows.find((r) => r.workload === w)?.tokensPerSecond;
  const ratio = (a, b) => (a && b ? a / b : null);
  const report = {
    at: new Date().toISOString(), seconds: Math.round(Date.now() / 1000 - Number(started)), shape, quant, gpuProvider: gpu || null,
    providers: lines("providers")[0] ?? null, decode, train,
    ratios: {
      "base gpu/cpu": ratio(tps(decode.gpu, "base"), tps(decode.cpu, "base")),
      "base+PARM gpu/cpu": ratio(tps(decode.gpu, "parm2"), tps(decode.cpu, "parm2")),
      "GenARM k=2 gpu/cpu": ratio(tps(decode.gpu, "genarm2"), tps(decode.cpu, "genarm2")),
      "11-α batch / sequential PARM (gpu)": ratio(tps(decode.gpu, "sweep11"), tps(decode.gpu, "parm2")),
      "PARM device-resident (float) / fast path (gpu)": ratio(tps(decode.gpuDeviceResident, "parm2-device"), tps(decode.gpu, "parm2")),
      "train step gpu/cpu": ratio(train.gpu?.tokensPerSecond, train.cpu?.tokensPerSecond),
    },
    weightBytesPerSecondGpuBase: decode.gpu.find((r) => r.workload === "base")?.weightBytesPerSecond ?? null,
    log: fs.readFileSync(`${out}/device-check.log`, "utf8").split("\n").filter((l) => !/^Warning: max/.test(l)).slice(-80),
  };
  fs.writeFileSync(`${out}/device-check.json`, JSON.stringify(report, null, 2) + "\n");
  console.log(JSON.stringify({ gpuProvider: report.gpuProvider, seconds: report.seconds, ratios: report.ratios }));
' "$out" "$gpu" "$started" "$shape" "$quant"
