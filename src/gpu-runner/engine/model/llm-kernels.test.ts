/**
 * @module engine/model/llm-kernels.test
 * Each onnxruntime com.microsoft kernel the fast decode graphs rely on (model/llm-decode-graph.ts) loads in a CPU
 * session and computes what a plain float64 reference computes, on tiny graphs: SimplifiedLayerNormalization,
 * SkipSimplifiedLayerNormalization, MatMulNBits (8 and 4 bits, block 32, K not a multiple of the block),
 * RotaryEmbedding (interleaved and half), and GroupQueryAttention with a fixed-capacity KV buffer shared between
 * past and present: a ragged prefill and then decode steps update the fed buffer in place.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { GraphBuilder, mulberry32, type HostTensor } from "../onnx/index.ts";
import { createEngineSession } from "../session/index.ts";
import { quantizeBlockwise, dequantizeBlockwise } from "./quantized-weights.ts";

const rng = mulberry32(7);
const randn = (n: number, scale = 1) => Float32Array.from({ length: n }, () => (rng() * 2 - 1) * scale);

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

async function run(b: GraphBuilder, feeds: Record<string, HostTensor>, into?: Record<string, HostTensor>) {
  const session = await createEngineSession(b.serialize(), { intraOpNumThreads: 1 });
  try {
    return await session.run(feeds, undefined, into);
  } finally {
    await session.release();
  }
}

function rms(x: Float32Array, gamma: Float32Array, eps: number): Float64Array {
  const d = gamma.length;
  const out = new Float64Array(x.length);
  for (let r = 0; r < x.length / d; r++) {
    let ss = 0;
    for (let j = 0; j < d; j++) ss += x[r * d + j] ** 2;
    const inv = 1 / Math.sqrt(ss / d + eps);
    for (let j = 0; j < d; j++) out[r * d + j] = x[r * d + j] * inv * gamma[j];
  }
  return out;
}

test("SimplifiedLayerNormalization and SkipSimplifiedLayerNormalization equal RMSNorm (and the residual sum)", async () => {
  const d = 16;
  const x = randn(2 * 3 * d);
  const skip = randn(2 * 3 * d);
  const gamma = randn(d);
  const b = new GraphBuilder("norms");
  const xv = b.input("x", "float32", [2, 3, d]);
  const sv = b.input("skip", "float32", [2, 3, d]);
  const g = b.initializer("gamma", "float32", [d], gamma);
  const [plain] = b.contrib("SimplifiedLayerNormalization", [xv, g], [{ dtype: "float32", shape: [2, 3, d] }], {
    axis: { kind: "int", value: -1 },
    epsilon: { kind: "float", value: 1e-5 },
    stash_type: { kind: "int", value: 1 },
  });
  const [normed, , , sum] = b.contrib("SkipSimplifiedLayerNormalization", [xv, sv, g], [
    { dtype: "float32", shape: [2, 3, d] },
    { dtype: "float32", shape: [] },
    { dtype: "float32", shape: [] },
    { dtype: "float32", shape: [2, 3, d] },
  ], { epsilon: { kind: "float", value: 1e-5 } });
  b.output(plain, "plain");
  b.output(normed, "normed");
  b.output(sum, "sum");
  const out = await run(b, { x: { dtype: "float32", shape: [2, 3, d], data: x }, skip: { dtype: "float32", shape: [2, 3, d], data: skip } });
  assert.ok(maxAbsDiff(out.plain.data as Float32Array, rms(x, gamma, 1e-5)) < 1e-5);
  const total = x.map((v, i) => v + skip[i]);
  assert.ok(maxAbsDiff(out.sum.data as Float32Array, total) < 1e-6);
  assert.ok(maxAbsDiff(out.normed.data as Float32Array, rms(total, gamma, 1e-5)) < 1e-5);
});

for (const bits of [8, 4] as const) {
  test(`MatMulNBits ${bits}-bit, block 32, K = 72 (padded last block) equals x·dequant(W)ᵀ`, async () => {
    const K = 72;
    const N = 5;
    const w = randn(N * K, 0.5);
    const q = quantizeBlockwise(w, N, K, bits);
    const deq = dequantizeBlockwise(q);
    // Error bounds for weights within ±0.5: 8 bits half a step (absmax/254); 4 bits a full step (Q4_0 clamps +8 to +7).
    assert.ok(maxAbsDiff(deq, w) <= (bits === 8 ? 0.5 / 254 : 0.5 / 8) + 1e-6);
    const x = randn(3 * K);
    const b = new GraphBuilder("mmnb");
    const xv = b.input("x", "float32", [1, 3, K]);
    const [y] = b.contrib("MatMulNBits", [xv, b.initializer("B", "uint8", q.packedShape, q.packed), b.initializer("scales", "float32", [q.scales.length], q.scales)], [{ dtype: "float32", shape: [1, 3, N] }], {
      K: { kind: "int", value: K },
      N: { kind: "int", value: N },
      bits: { kind: "int", value: bits },
      block_size: { kind: "int", value: 32 },
    });
    b.output(y, "y");
    const out = await run(b, { x: { dtype: "float32", shape: [1, 3, K], data: x } });
    const expected = new Float64Array(3 * N);
    for (let r = 0; r < 3; r++) for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) expected[r * N + n] += x[r * K + k] * deq[n * K + k];
    assert.ok(maxAbsDiff(out.y.data as Float32Array, expected) < 1e-4, `max diff ${maxAbsDiff(out.y.data as Float32Array, expected)}`);
  });
}

/** Reference RoPE on x [B,S,H,hd] at positions pos[b][s]. */
function ropeReference(x: Float32Array, B: number, S: number, H: number, hd: number, pos: number[][], interleaved: boolean, theta = 10000): Float64Array {
  const out = Float64Array.from(x);
  for (let bb = 0; bb < B; bb++)
    for (let s = 0; s < S; s++)
      for (let h = 0; h < H; h++)
        for (let j = 0; j < hd / 2; j++) {
          const angle = pos[bb][s] * Math.pow(theta, (-2 * j) / hd);
          const [a, c] = interleaved ? [2 * j, 2 * j + 1] : [j, j + hd / 2];
          const base = ((bb * S + s) * H + h) * hd;
          const xa = x[base + a];
          const xc = x[base + c];
          out[base + a] = xa * Math.cos(angle) - xc * Math.sin(angle);
          out[base + c] = xa * Math.sin(angle) + xc * Math.cos(angle);
        }
  return out;
}

export function ropeCaches(maxSeq: number, hd: number, theta = 10000): { cos: Float32Array; sin: Float32Array } {
  const cos = new Float32Array(maxSeq * (hd / 2));
  const sin = new Float32Array(maxSeq * (hd / 2));
  for (let t = 0; t < maxSeq; t++)
    for (let j = 0; j < hd / 2; j++) {
      const angle = t * Math.pow(theta, (-2 * j) / hd);
      cos[t * (hd / 2) + j] = Math.cos(angle);
      sin[t * (hd / 2) + j] = Math.sin(angle);
    }
  return { cos, sin };
}

for (const interleaved of [true, false]) {
  test(`RotaryEmbedding (${interleaved ? "interleaved" : "half"}) at per-row positions equals the reference rotation`, async () => {
    const [B, S, H, hd, maxSeq] = [2, 3, 2, 8, 16];
    const x = randn(B * S * H * hd);
    const pos = [[0, 1, 2], [5, 6, 7]];
    const { cos, sin } = ropeCaches(maxSeq, hd);
    const b = new GraphBuilder("rope");
    const xv = b.input("x", "float32", [B, S, H * hd]);
    const pv = b.input("pos", "int64", [B, S]);
    const [y] = b.contrib("RotaryEmbedding", [xv, pv, b.initializer("cos", "float32", [maxSeq, hd / 2], cos), b.initializer("sin", "float32", [maxSeq, hd / 2], sin)], [{ dtype: "float32", shape: [B, S, H * hd] }], {
      interleaved: { kind: "int", value: interleaved ? 1 : 0 },
      num_heads: { kind: "int", value: H },
    });
    b.output(y, "y");
    const out = await run(b, { x: { dtype: "float32", shape: [B, S, H * hd], data: x }, pos: { dtype: "int64", shape: [B, S], data: BigInt64Array.from(pos.flat(), BigInt) } });
    assert.ok(maxAbsDiff(out.y.data as Float32Array, ropeReference(x, B, S, H, hd, pos, interleaved)) < 1e-5);
  });
}

/** Causal GQA reference: q [B,S,H*hd] (queries at positions start_b + s), keys/values per row [T,KV*hd]. */
function attentionReference(q: Float64Array, keys: Float64Array[][], values: Float64Array[][], B: number, S: number, H: number, KV: number, hd: number, starts: number[], counts: number[]): Float64Array {
  const out = new Float64Array(B * S * H * hd);
  const G = H / KV;
  for (let bb = 0; bb < B; bb++)
    for (let s = 0; s < counts[bb]; s++) {
      const visible = starts[bb] + s + 1;
      for (let h = 0; h < H; h++) {
        const kvh = Math.floor(h / G);
        const scores: number[] = [];
        for (let t = 0; t < visible; t++) {
          let dot = 0;
          for (let j = 0; j < hd; j++) dot += q[((bb * S + s) * H + h) * hd + j] * keys[bb][t][kvh * hd + j];
          scores.push(dot / Math.sqrt(hd));
        }
        const mx = Math.max(...scores);
        const e = scores.map((v) => Math.exp(v - mx));
        const z = e.reduce((p, v) => p + v, 0);
        for (let t = 0; t < visible; t++) for (let j = 0; j < hd; j++) out[((bb * S + s) * H + h) * hd + j] += (e[t] / z) * values[bb][t][kvh * hd + j];
      }
    }
  return out;
}

test("GroupQueryAttention with a shared fixed-capacity KV buffer: ragged prefill, then steps update the buffer in place", async () => {
  const [B, H, KV, hd, cap] = [2, 4, 2, 8, 16];
  const { cos, sin } = ropeCaches(cap, hd);
  const build = (S: number) => {
    const b = new GraphBuilder("gqa");
    const q = b.input("q", "float32", [B, S, H * hd]);
    const k = b.input("k", "float32", [B, S, KV * hd]);
    const v = b.input("v", "float32", [B, S, KV * hd]);
    const pk = b.input("past_key", "float32", [B, KV, cap, hd]);
    const pv = b.input("past_value", "float32", [B, KV, cap, hd]);
    const seqlens = b.input("seqlens_k", "int32", [B]);
    const total = b.input("total_sequence_length", "int32", []);
    const positions = b.input("position_ids", "int64", [B, S]);
    const cosV = b.initializer("cos", "float32", [cap, hd / 2], cos);
    const sinV = b.initializer("sin", "float32", [cap, hd / 2], sin);
    const rope = (x: typeof q, heads: number) =>
      b.contrib("RotaryEmbedding", [x, positions, cosV, sinV], [{ dtype: "float32", shape: x.shape }], { interleaved: { kind: "int", value: 1 }, num_heads: { kind: "int", value: heads } })[0];
    const [o, presentK, presentV] = b.contrib("GroupQueryAttention", [rope(q, H), rope(k, KV), v, pk, pv, seqlens, total], [
      { dtype: "float32", shape: [B, S, H * hd] },
      { dtype: "float32", shape: [B, KV, cap, hd] },
      { dtype: "float32", shape: [B, KV, cap, hd] },
    ], {
      num_heads: { kind: "int", value: H },
      kv_num_heads: { kind: "int", value: KV },
    });
    b.output(o, "output");
    b.output(presentK, "present_key");
    b.output(presentV, "present_value");
    return b;
  };
  const kBuf = new Float32Array(B * KV * cap * hd);
  const vBuf = new Float32Array(B * KV * cap * hd);
  const cache = { k: { dtype: "float32", shape: [B, KV, cap, hd], data: kBuf } as HostTensor, v: { dtype: "float32", shape: [B, KV, cap, hd], data: vBuf } as HostTensor };
  // History per row in the reference (roped keys, raw values), rows of different prompt lengths (right padded).
  const lengths = [5, 3];
  const S0 = 5;
  const keys: Float64Array[][] = [[], []];
  const vals: Float64Array[][] = [[], []];
  const step = async (S: number, starts: number[], counts: number[]) => {
    const q = randn(B * S * H * hd);
    const k = randn(B * S * KV * hd);
    const v = randn(B * S * KV * hd);
    const pos = starts.map((p0) => Array.from({ length: S }, (_, s) => p0 + s));
    const qr = ropeReference(q, B, S, H, hd, pos, true);
    const kr = ropeReference(k, B, S, KV, hd, pos, true);
    for (let bb = 0; bb < B; bb++)
      for (let s = 0; s < counts[bb]; s++) {
        keys[bb].push(kr.slice((bb * S + s) * KV * hd, (bb * S + s + 1) * KV * hd));
        vals[bb].push(Float64Array.from(v.subarray((bb * S + s) * KV * hd, (bb * S + s + 1) * KV * hd)));
      }
    const feeds: Record<string, HostTensor> = {
      q: { dtype: "float32", shape: [B, S, H * hd], data: q },
      k: { dtype: "float32", shape: [B, S, KV * hd], data: k },
      v: { dtype: "float32", shape: [B, S, KV * hd], data: v },
      past_key: cache.k,
      past_value: cache.v,
      seqlens_k: { dtype: "int32", shape: [B], data: Int32Array.from(starts, (p, i) => p + counts[i] - 1) },
      total_sequence_length: { dtype: "int32", shape: [], data: Int32Array.of(Math.max(...starts.map((p, i) => p + counts[i]))) },
      position_ids: { dtype: "int64", shape: [B, S], data: BigInt64Array.from(pos.flat(), BigInt) },
    };
    const out = await run(build(S), feeds, { present_key: cache.k, present_value: cache.v });
    const o = out.present_key.data as Float32Array; const old = kBuf[3]; o[3] = 12345; console.log("aliased", kBuf[3] === 12345); kBuf[3] = old;
    const expected = attentionReference(qr, keys, vals, B, S, H, KV, hd, starts, counts);
    const got = out.output.data as Float32Array;
    for (let bb = 0; bb < B; bb++)
      for (let s = 0; s < counts[bb]; s++) {
        const at = (bb * S + s) * H * hd;
        assert.ok(maxAbsDiff(got.subarray(at, at + H * hd), expected.subarray(at, at + H * hd)) < 1e-5, `row ${bb} position ${starts[bb] + s}`);
      }
  };
  await step(S0, [0, 0], lengths);
  // The buffer now holds each row's roped prompt keys at slots [0, length).
  for (let bb = 0; bb < B; bb++) {
    const slot = (bb * KV * cap + 1) * hd; // kv head 0, position 1
    assert.ok(maxAbsDiff(kBuf.subarray(slot, slot + hd), keys[bb][1].subarray(0, hd)) < 1e-5);
  }
  for (let i = 0; i < 3; i++) await step(1, [lengths[0] + i, lengths[1] + i], [1, 1]);
});
