/**
 * @module bench/lexical
 * An independent, transformer-free check for bench/evaluate.ts: a bag-of-words Bradley–Terry model per
 * objective. Features are word frequencies (count / words in the response, so response length itself carries no
 * signal) over the words that occur in at least `minCount` responses of the training pairs; the reward is wᵀf(y),
 * fitted by full-batch gradient descent on mean −log σ(w·(f(y_w) − f(y_l))) + (λ/2)‖w‖². Deterministic.
 */

/** Lower-case words (apostrophes kept) and the punctuation marks ? ! . , as tokens. */
export function lexicalTokens(text: string): string[] {
  return text.toLowerCase().match(/[a-z']+|[?!.,]/g) ?? [];
}

export interface LexicalPair {
  readonly preferred: string;
  readonly rejected: string;
}

export interface LexicalOptions {
  readonly minCount?: number;
  readonly l2?: number;
  readonly iterations?: number;
  readonly learningRate?: number;
}

export class LexicalRewardModel {
  private constructor(
    private readonly index: ReadonlyMap<string, number>,
    private readonly weights: Float64Array,
  ) {}

  /** Fits the model on preference pairs (see the module comment). */
  static fit(pairs: readonly LexicalPair[], options: LexicalOptions = {}): LexicalRewardModel {
    const minCount = options.minCount ?? 30;
    const documents = new Map<string, number>();
    for (const p of pairs) for (const text of [p.preferred, p.rejected]) for (const w of new Set(lexicalTokens(text))) documents.set(w, (documents.get(w) ?? 0) + 1);
    const vocabulary = [...documents].filter(([, c]) => c >= minCount).map(([w]) => w).sort();
    const index = new Map(vocabulary.map((w, i) => [w, i]));
    const model = new LexicalRewardModel(index, new Float64Array(vocabulary.length));
    const rows = pairs.map((p) => {
      const a = model.features(p.preferred);
      const b = model.features(p.rejected);
      return a.map((v, i) => v - b[i]);
    });
    const l2 = options.l2 ?? 1e-3;
    const lr = options.learningRate ?? 2;
    const w = model.weights;
    for (let it = 0; it < (options.iterations ?? 400); it++) {
      const grad = new Float64Array(w.length);
      for (const x of rows) {
        let z = 0;
        for (let i = 0; i < w.length; i++) z += w[i] * x[i];
        const g = -1 / (1 + Math.exp(z)); // d/dz −log σ(z)
        for (let i = 0; i < w.length; i++) grad[i] += (g * x[i]) / rows.length;
      }
      for (let i = 0; i < w.length; i++) w[i] -= lr * (grad[i] + l2 * w[i]);
    }
    return model;
  }

  get vocabularySize(): number {
    return this.weights.length;
  }

  private features(text: string): Float64Array {
    const f = new Float64Array(this.index.size);
    const tokens = lexicalTokens(text);
    for (const t of tokens) {
      const i = this.index.get(t);
      if (i !== undefined) f[i] += 1 / tokens.length;
    }
    return f;
  }

  score(text: string): number {
    const f = this.features(text);
    let r = 0;
    for (let i = 0; i < f.length; i++) r += this.weights[i] * f[i];
    return r;
  }

  /** Share of pairs whose preferred response scores higher (ties ½). */
  accuracy(pairs: readonly LexicalPair[]): number {
    let correct = 0;
    for (const p of pairs) {
      const d = this.score(p.preferred) - this.score(p.rejected);
      correct += d > 0 ? 1 : d === 0 ? 0.5 : 0;
    }
    return correct / pairs.length;
  }

  /** The `n` words with the largest and the smallest weights. */
  extremes(n: number): { readonly positive: string[]; readonly negative: string[] } {
    const words = [...this.index.keys()].sort((a, b) => this.weights[this.index.get(b)!] - this.weights[this.index.get(a)!]);
    return { positive: words.slice(0, n), negative: words.slice(-n).reverse() };
  }
}
