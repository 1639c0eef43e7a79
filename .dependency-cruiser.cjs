/** Import rules of docs/architecture.md §2: engine ← gpu-runner; contracts ← api, gpu-runner; schema ← api;
 *  formats ← api, engine; api never imports gpu-runner; engine imports nothing from the rest but formats; formats
 *  imports nothing from src/; no cycles. */
module.exports = {
  forbidden: [
    { name: "no-circular", severity: "error", from: {}, to: { circular: true } },
    {
      name: "engine-is-pure",
      comment: "The engine imports nothing from the rest of the platform but the shared formats leaf (and the training recipe).",
      severity: "error",
      from: { path: "^src/gpu-runner/engine/" },
      to: { path: "^src/", pathNot: "^src/gpu-runner/engine/|^src/contracts/training-recipe\\.ts$|^src/formats/" },
    },
    {
      name: "formats-is-a-leaf",
      comment: "formats (model-file headers, byte and half-float codecs, SHA-256, the vocabulary digest) is shared by api and engine and imports nothing else from src/.",
      severity: "error",
      from: { path: "^src/formats/" },
      to: { path: "^src/", pathNot: "^src/formats/" },
    },
    {
      name: "formats-no-io",
      comment: "formats reads files and bytes only: no network, database, GraphQL or onnxruntime.",
      severity: "error",
      from: { path: "^src/formats/" },
      to: { path: "(^|/)node_modules/(pg|@prisma|@nats-io|express|@apollo|ws|graphql|onnxruntime-node)(/|$)|^(http|https|net|dgram|child_process)$" },
    },
    {
      name: "training-recipe-is-a-leaf",
      comment: "The training defaults the engine shares with api and runner import nothing.",
      severity: "error",
      from: { path: "^src/contracts/training-recipe\\.ts$" },
      to: {},
    },
    {
      name: "engine-no-io",
      comment: "The engine does no network or database I/O.",
      severity: "error",
      from: { path: "^src/gpu-runner/engine/" },
      to: { path: "(^|/)node_modules/(pg|@prisma|@nats-io|express|@apollo|ws|graphql)(/|$)|^(http|https|net|dgram|child_process)$", dependencyTypesNot: ["type-only"] },
    },
    {
      name: "api-not-runner",
      comment: "The api never imports the runner (nor onnxruntime).",
      severity: "error",
      from: { path: "^src/(api|schema)/" },
      to: { path: "^src/gpu-runner/|(^|/)node_modules/onnxruntime-node/" },
    },
    {
      name: "runner-not-api",
      comment: "The runner never touches PostgreSQL or the GraphQL layer.",
      severity: "error",
      from: { path: "^src/gpu-runner/" },
      to: { path: "^src/(api|schema)/|(^|/)node_modules/(@prisma|pg|type-graphql|@apollo)/" },
    },
    {
      name: "contracts-are-leaves",
      comment: "contracts is shared by api and runner and imports neither.",
      severity: "error",
      from: { path: "^src/contracts/" },
      to: { path: "^src/(api|schema|gpu-runner)/" },
    },
    {
      name: "bus-is-shared-infrastructure",
      comment: "bus (job transport) may use contracts only; api and gpu-runner both use it.",
      severity: "error",
      from: { path: "^src/bus/" },
      to: { path: "^src/(api|schema|gpu-runner)/" },
    },
    {
      name: "engine-not-bus",
      severity: "error",
      from: { path: "^src/gpu-runner/engine/" },
      to: { path: "^src/bus/" },
    },
    {
      name: "schema-only-from-api",
      comment: "schema (the GraphQL surface) is used by api only.",
      severity: "error",
      from: { path: "^src/", pathNot: "^src/(api|schema)/" },
      to: { path: "^src/schema/" },
    },
    {
      name: "src-not-tests",
      comment: "Production code never imports test utilities.",
      severity: "error",
      from: { path: "^src/", pathNot: "\\.test\\.ts$" },
      to: { path: "^test/|\\.test\\.ts$" },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: "src/api/db/generated" },
    tsConfig: { fileName: "tsconfig.json" },
    tsPreCompilationDeps: true,
    enhancedResolveOptions: { extensions: [".ts", ".js", ".mjs"] },
  },
};
