#!/usr/bin/env bash
# Builds bench/out/gpu-bundle.tar.xz: what bench/gpu/device-check.sh needs on a bare, air-gapped GPU host (the
# NVIDIA driver present; maybe no Node, no package registry, no libvulkan1) — under 64 MiB:
#   bin/node                      this machine's Node binary (linux/x64, glibc)
#   node_modules/onnxruntime-node package.json, dist/ and bin/napi-v6/linux/x64 (libonnxruntime.so.1 with the
#                                 WebGPU provider; the CUDA provider only if it was installed, docs/operations.md)
#   node_modules/onnxruntime-common
#   lib/libvulkan.so.1            Debian libvulkan1's loader (used when the host has none)
#   js/*.mjs                      bench/gpu/{providers,decode-step,train-step}.ts bundled by rolldown
# Usage: bench/gpu/build-bundle.sh   (from the repository root, after npm ci; needs libvulkan1 and xz)
set -euo pipefail
cd "$(dirname "$0")/../.."
stage=bench/out/gpu-bundle
rm -rf "$stage" bench/out/gpu-bundle.tar.xz
mkdir -p "$stage/bin" "$stage/lib" "$stage/js" "$stage/node_modules/onnxruntime-node/bin/napi-v6/linux"
cp "$(command -v node)" "$stage/bin/node"
ort=node_modules/onnxruntime-node
cp -r "$ort/package.json" "$ort/dist" "$stage/node_modules/onnxruntime-node/"
cp -r "$ort/bin/napi-v6/linux/x64" "$stage/node_modules/onnxruntime-node/bin/napi-v6/linux/"
cp -r node_modules/onnxruntime-common "$stage/node_modules/"
loader=$(ldconfig -p | awk '/libvulkan\.so\.1 .*x86-64/ {print $NF; exit}')
[ -n "$loader" ] || { echo "libvulkan.so.1 not found (apt-get install libvulkan1)" >&2; exit 1; }
cp -L "$loader" "$stage/lib/libvulkan.so.1"
for script in providers decode-step train-step; do
  npx rolldown "bench/gpu/$script.ts" --format esm --platform node --external onnxruntime-node --file "$stage/js/$script.mjs" >/dev/null
done
tar -C bench/out -cf - gpu-bundle | xz -T0 -6 > bench/out/gpu-bundle.tar.xz
rm -rf "$stage"
size=$(stat -c %s bench/out/gpu-bundle.tar.xz)
echo "bench/out/gpu-bundle.tar.xz: $((size / 1048576)) MiB"
[ "$size" -lt $((64 * 1048576)) ] || { echo "bundle exceeds 64 MiB" >&2; exit 1; }
