/** @module api/plugins/query-limits
 *  Operation size limits, shared by HTTP (Apollo) and WebSocket (graphql-ws) execution:
 *  depth, cost, aliases and directives through @escape.tech/graphql-armor's validation rules (cost model: objects
 *  2, scalars 1, × 1.5 per level; list sizes are not counted); tokens through graphql-js's parser (`maxTokens`);
 *  total selections through Apollo's `maxRecursiveSelections` (HTTP) — over WebSocket the
 *  depth and cost rules bound the same thing. Introspection is refused when `limits.introspection` is false.
 *  The depth limit counts introspection selections too: graphql-armor skips everything under `__schema` by default,
 *  so `ofType { ofType … }` chains nested without bound (graphql-js's own MaxIntrospectionDepthRule, in
 *  specifiedRules, bounds only the fields/interfaces/possibleTypes/inputFields recursion). graphql-js's full
 *  `getIntrospectionQuery()` counts 21 levels (fragment spreads count one), so tools that send it need
 *  `maxDepth` ≥ 21. The cost limit still skips introspection: its depth factor prices that query at ~87 000.
 *  A rejected operation is a validation error whose `extensions.code` is QUERY_TOO_DEEP, QUERY_TOO_COMPLEX or
 *  QUERY_TOO_LARGE (the error formatter copies `extensions.limitCode` over Apollo's GRAPHQL_VALIDATION_FAILED). */
import { ApolloArmor } from "@escape.tech/graphql-armor";
import type { ApolloServerPlugin } from "@apollo/server";
import { GraphQLError, NoSchemaIntrospectionCustomRule, type ValidationContext, type ValidationRule } from "graphql";
import type { ApiLimits } from "../../config.ts";
import { ErrorCode } from "../../errors/index.ts";

/** graphql-js's parse error when `maxTokens` is exceeded. */
export const TOKEN_LIMIT_MESSAGE = /Document contains more th(?:at|an) \d+ tokens/;

export type LimitCode = typeof ErrorCode.QUERY_TOO_DEEP | typeof ErrorCode.QUERY_TOO_COMPLEX | typeof ErrorCode.QUERY_TOO_LARGE;

function reportAs(limitCode: LimitCode) {
  return (ctx: ValidationContext | null, error: GraphQLError) => {
    ctx?.reportError(
      new GraphQLError(error.message.replace(/^Syntax Error: /, ""), {
        extensions: { code: limitCode, limitCode },
      }),
    );
  };
}

export interface QueryLimits {
  /** Extra validation rules (add to graphql's specifiedRules). */
  validationRules: ValidationRule[];
  /** Apollo plugins (token limit at parse time; field-suggestion masking when introspection is off). */
  apolloPlugins: ApolloServerPlugin[];
  /** Parser options (Apollo's `parseOptions` and the WebSocket transport's parse). */
  parseOptions: { maxTokens: number };
}

export function createQueryLimits(limits: ApiLimits): QueryLimits {
  const armor = new ApolloArmor({
    maxDepth: { n: limits.maxDepth, ignoreIntrospection: false, propagateOnRejection: false, onReject: [reportAs(ErrorCode.QUERY_TOO_DEEP)] },
    costLimit: {
      maxCost: limits.maxCost,
      propagateOnRejection: false,
      onReject: [reportAs(ErrorCode.QUERY_TOO_COMPLEX)],
    },
    maxAliases: { n: limits.maxAliases, propagateOnRejection: false, onReject: [reportAs(ErrorCode.QUERY_TOO_LARGE)] },
    maxDirectives: { n: 50, propagateOnRejection: false, onReject: [reportAs(ErrorCode.QUERY_TOO_LARGE)] },
    // Tokens are limited by the parser itself (`parseOptions.maxTokens`, Apollo's and ours), which fails cleanly.
    maxTokens: { enabled: false },
    blockFieldSuggestion: { enabled: !limits.introspection },
  });
  const { validationRules, plugins } = armor.protect();
  return {
    validationRules: [...validationRules, ...(limits.introspection ? [] : [NoSchemaIntrospectionCustomRule])],
    // graphql-armor is typed against the CommonJS build of @apollo/server; the plugin objects are the same shape.
    apolloPlugins: plugins as unknown as ApolloServerPlugin[],
    parseOptions: { maxTokens: limits.maxTokens },
  };
}
