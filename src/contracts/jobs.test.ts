import { test } from "node:test";
import assert from "node:assert/strict";
import {
  ContractValidationError,
  InvalidSubjectTokenError,
  JOB_KINDS,
  JOB_KIND_DB_NAMES,
  dlqSubject,
  eventSubject,
  exampleJobEnvelope,
  exampleTrainPayload,
  exampleGeneratePayload,
  exampleEvaluatePayload,
  exampleTrainEvaluatorPayload,
  jobConsumerName,
  jobKindFilter,
  jobKindFromDbName,
  jobSubject,
  parseEventSubject,
  parseJobEnvelope,
  parseJobPayload,
  parseJobSubject,
} from "./index.ts";

function issuesOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof ContractValidationError, `expected ContractValidationError, got ${String(error)}`);
    assert.equal(error.code, "CONTRACT_VALIDATION_FAILED");
    return error.issues.map((i) => `${i.path}: ${i.message}`);
  }
  assert.fail("expected a ContractValidationError");
}

test("every kind's example envelope round-trips through JSON and the schema", () => {
  for (const kind of JOB_KINDS) {
    const envelope = exampleJobEnvelope(kind);
    const parsed = parseJobEnvelope(JSON.parse(JSON.stringify(envelope)));
    assert.deepEqual(parsed, envelope);
    assert.equal(parsed.kind, kind);
  }
});

test("envelope kind selects the payload schema", () => {
  const envelope = { ...exampleJobEnvelope("generate"), kind: "train" };
  const issues = issuesOf(() => parseJobEnvelope(envelope));
  assert.ok(issues.some((i) => i.startsWith("payload.method")), issues.join("\n"));
  const unknownKind = { ...exampleJobEnvelope("train"), kind: "finetune" };
  assert.ok(issuesOf(() => parseJobEnvelope(unknownKind)).some((i) => i.startsWith("kind")));
});

test("envelope ids must be subject tokens and createdAt an ISO time", () => {
  const bad = { ...exampleJobEnvelope("train"), tenantId: "a.b", createdAt: "yesterday" };
  const issues = issuesOf(() => parseJobEnvelope(bad));
  assert.ok(issues.some((i) => i.startsWith("tenantId")));
  assert.ok(issues.some((i) => i.startsWith("createdAt")));
});

test("train payload: cross-field rules name the field", () => {
  const p = exampleTrainPayload();
  p.maxPromptLength = p.maxLength;
  assert.ok(issuesOf(() => parseJobPayload("train", p)).some((i) => i.startsWith("maxPromptLength")));

  const unmapped = exampleTrainPayload();
  unmapped.datasets[0].dimensionMap = { better: "dim-help", safer: "dim-unknown" };
  const issues = issuesOf(() => parseJobPayload("train", unmapped));
  assert.ok(issues.some((i) => i.startsWith("datasets.0.dimensionMap.safer")), issues.join("\n"));
  assert.ok(issues.some((i) => i.startsWith("dimensions.0") && i.includes("harmless")), issues.join("\n"));

  const negative = { ...exampleTrainPayload(), lr: -1 };
  assert.ok(issuesOf(() => parseJobPayload("train", negative)).some((i) => i.startsWith("lr")));
  const missing: Record<string, unknown> = { ...exampleTrainPayload() };
  delete missing.r2;
  assert.ok(issuesOf(() => parseJobPayload("train", missing)).some((i) => i.startsWith("r2")));
});

test("train payload: the prompt template is named or jinja; payloads without one parse with null", () => {
  assert.deepEqual(parseJobPayload("train", exampleTrainPayload()).promptTemplate, { kind: "named", name: "PKU" });
  const jinja = { ...exampleTrainPayload(), promptTemplate: { kind: "jinja", template: "{{ messages[0].content }}", bosToken: "<s>", eosToken: null } };
  assert.deepEqual(parseJobPayload("train", jinja).promptTemplate, jinja.promptTemplate);
  const legacy: Record<string, unknown> = { ...exampleTrainPayload() };
  delete legacy.promptTemplate;
  assert.equal(parseJobPayload("train", legacy).promptTemplate, null);
  assert.ok(issuesOf(() => parseJobPayload("train", { ...exampleTrainPayload(), promptTemplate: { kind: "named", name: "alpaca" } })).some((i) => i.startsWith("promptTemplate")));
});

test("train payload: loraDropout is in [0, 1); payloads without it (from before it existed) parse with 0", () => {
  assert.equal(parseJobPayload("train", exampleTrainPayload()).loraDropout, 0.05);
  const legacy: Record<string, unknown> = { ...exampleTrainPayload() };
  delete legacy.loraDropout;
  assert.equal(parseJobPayload("train", legacy).loraDropout, 0);
  for (const bad of [1, -0.01]) assert.ok(issuesOf(() => parseJobPayload("train", { ...exampleTrainPayload(), loraDropout: bad })).some((i) => i.startsWith("loraDropout")));
});

test("train payload: alphaPer is STEP or MICRO_BATCH; payloads without it (from before it existed) parse with MICRO_BATCH", () => {
  assert.equal(parseJobPayload("train", exampleTrainPayload()).alphaPer, "STEP");
  const legacy: Record<string, unknown> = { ...exampleTrainPayload() };
  delete legacy.alphaPer;
  assert.equal(parseJobPayload("train", legacy).alphaPer, "MICRO_BATCH");
  assert.ok(issuesOf(() => parseJobPayload("train", { ...exampleTrainPayload(), alphaPer: "EPOCH" })).some((i) => i.startsWith("alphaPer")));
});

test("train payload: truncation is TRL or PREFIX_SHARED; payloads without it (from before it existed) parse with PREFIX_SHARED", () => {
  assert.equal(parseJobPayload("train", exampleTrainPayload()).truncation, "TRL");
  const legacy: Record<string, unknown> = { ...exampleTrainPayload() };
  delete legacy.truncation;
  assert.equal(parseJobPayload("train", legacy).truncation, "PREFIX_SHARED");
  assert.ok(issuesOf(() => parseJobPayload("train", { ...exampleTrainPayload(), truncation: "KEEP_START" })).some((i) => i.startsWith("truncation")));
});

test("generate payload: each alpha is checked against the ARM's dimension count", () => {
  const p = exampleGeneratePayload();
  p.alphas = [[0.5, 0.5], [0.5, 0.6], [1]];
  const issues = issuesOf(() => parseJobPayload("generate", p));
  assert.ok(issues.some((i) => i.startsWith("alphas.1") && i.includes("NOT_NORMALIZED")), issues.join("\n"));
  assert.ok(issues.some((i) => i.startsWith("alphas.2") && i.includes("WRONG_LENGTH")), issues.join("\n"));
  assert.ok(!issues.some((i) => i.startsWith("alphas.0")));

  const unguided = { ...exampleGeneratePayload(), arm: null, alphas: [[]] };
  assert.equal(parseJobPayload("generate", unguided).arm, null);
  assert.ok(issuesOf(() => parseJobPayload("generate", { ...unguided, alphas: [[1]] })).some((i) => i.startsWith("alphas")));
  const badTopP = { ...exampleGeneratePayload(), sampling: { ...exampleGeneratePayload().sampling, topP: 0 } };
  assert.ok(issuesOf(() => parseJobPayload("generate", badTopP)).some((i) => i.startsWith("sampling.topP")));
});

test("train-evaluator payload: pooling and splits default to last / VALIDATION / TEST for payloads without them", () => {
  const legacy: Record<string, unknown> = { ...exampleTrainEvaluatorPayload() };
  delete legacy.pooling;
  delete legacy.trainSplit;
  delete legacy.heldOutSplit;
  const parsed = parseJobPayload("train-evaluator", legacy);
  assert.equal(parsed.pooling, "last");
  assert.equal(parsed.trainSplit, "VALIDATION");
  assert.equal(parsed.heldOutSplit, "TEST");
  const chosen = parseJobPayload("train-evaluator", { ...exampleTrainEvaluatorPayload(), pooling: "mean", trainSplit: "TEST", heldOutSplit: "VALIDATION" });
  assert.deepEqual([chosen.pooling, chosen.trainSplit, chosen.heldOutSplit], ["mean", "TEST", "VALIDATION"]);
});

test("train-evaluator payload: equal train and held-out splits, an unknown pooling or split are refused by field", () => {
  const same = issuesOf(() => parseJobPayload("train-evaluator", { ...exampleTrainEvaluatorPayload(), trainSplit: "TRAIN", heldOutSplit: "TRAIN" }));
  assert.ok(same.some((i) => i.startsWith("heldOutSplit") && i.includes("trainSplit")), same.join("\n"));
  const defaultsCollide = { ...exampleTrainEvaluatorPayload(), heldOutSplit: "VALIDATION" } as Record<string, unknown>;
  delete defaultsCollide.trainSplit;
  assert.ok(issuesOf(() => parseJobPayload("train-evaluator", defaultsCollide)).some((i) => i.startsWith("heldOutSplit")));
  assert.ok(issuesOf(() => parseJobPayload("train-evaluator", { ...exampleTrainEvaluatorPayload(), pooling: "max" })).some((i) => i.startsWith("pooling")));
  assert.ok(issuesOf(() => parseJobPayload("train-evaluator", { ...exampleTrainEvaluatorPayload(), trainSplit: "train" })).some((i) => i.startsWith("trainSplit")));
});

test("evaluate payload: grid step, evaluator count and reference point", () => {
  const p = { ...exampleEvaluatePayload(), gridStep: 0.3, evaluators: [exampleEvaluatePayload().evaluators[0]], referencePoint: [0] };
  const issues = issuesOf(() => parseJobPayload("evaluate", p));
  assert.ok(issues.some((i) => i.startsWith("gridStep")));
  assert.ok(issues.some((i) => i.startsWith("evaluators")));
  assert.ok(issues.some((i) => i.startsWith("referencePoint")));
  assert.equal(parseJobPayload("evaluate", { ...exampleEvaluatePayload(), referencePoint: [-1, -1] }).gridStep, 0.1);
});

test("subjects, filters and consumer names", () => {
  assert.equal(jobSubject("train", "t1"), "jobs.train.t1");
  assert.equal(jobSubject("train-evaluator", "t1"), "jobs.train-evaluator.t1");
  assert.equal(jobKindFilter("generate"), "jobs.generate.>");
  assert.equal(jobConsumerName("train-evaluator"), "jobs-train-evaluator");
  assert.equal(eventSubject("j-1"), "events.job.j-1");
  assert.equal(dlqSubject("evaluate", "t1"), "dlq.jobs.evaluate.t1");
  assert.throws(() => jobSubject("train", "a.b"), InvalidSubjectTokenError);
  assert.throws(() => jobSubject("train", "*"), InvalidSubjectTokenError);
  assert.throws(() => eventSubject("x >"), InvalidSubjectTokenError);
  assert.deepEqual(parseJobSubject("jobs.train-evaluator.t9"), { kind: "train-evaluator", tenantId: "t9" });
  assert.equal(parseJobSubject("jobs.nope.t9"), null);
  assert.equal(parseJobSubject("jobs.train.t9.x"), null);
  assert.deepEqual(parseEventSubject("events.job.abc"), { jobId: "abc" });
  assert.equal(parseEventSubject("events.jobs.abc"), null);
  // The per-kind filters must not overlap (WorkQueue streams allow one consumer per subject).
  for (const a of JOB_KINDS) {
    for (const b of JOB_KINDS) {
      if (a !== b) assert.ok(!jobSubject(b, "t").startsWith(jobKindFilter(a).slice(0, -1)));
    }
  }
});

test("kind names map to the database enum and back", () => {
  for (const kind of JOB_KINDS) assert.equal(jobKindFromDbName(JOB_KIND_DB_NAMES[kind]), kind);
});
