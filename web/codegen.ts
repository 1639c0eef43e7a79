/** GraphQL Code Generator (client preset): typed operations for every `graphql(...)` document in web/src, generated
 *  from web/schema.graphql, which scripts/print-schema.ts prints from the api's schema built in code. Documents are
 *  emitted as strings (`documentMode: "string"`), so the console ships no GraphQL runtime. Run by
 *  scripts/build-web.mjs; the output (web/src/gql/) is generated, not committed. */
import type { CodegenConfig } from "@graphql-codegen/cli";

const config: CodegenConfig = {
  schema: "web/schema.graphql",
  documents: ["web/src/**/*.{ts,tsx}", "!web/src/gql/**"],
  ignoreNoDocuments: false,
  generates: {
    "web/src/gql/": {
      preset: "client",
      presetConfig: { fragmentMasking: false },
      config: {
        documentMode: "string",
        enumsAsTypes: true,
        useTypeImports: true,
        strictScalars: true,
        scalars: { DateTimeISO: "string", JSON: "unknown" },
      },
    },
  },
  silent: true,
};

export default config;
