/** @module api/plugins/introspection-auth
 *  Schema introspection needs credentials: an anonymous HTTP operation that selects `__schema` or `__type`
 *  anywhere (fragments included) is refused with 401 UNAUTHENTICATED once it has been parsed and validated
 *  (`didResolveOperation`), before it executes. `__typename` is not introspection and stays open. WebSocket
 *  operations are always authenticated (an anonymous `connection_init` is closed with 4401), so only HTTP needs
 *  this plugin. Whether introspection is allowed at all is `limits.introspection` (off when NODE_ENV=production:
 *  plugins/query-limits); its depth counts against `limits.maxDepth` like any other selection (query-limits). */
import type { ApolloServerPlugin } from "@apollo/server";
import { BREAK, visit, type DocumentNode } from "graphql";
import type { ApiContext } from "../../context.ts";
import { UnauthenticatedError } from "../../errors/index.ts";

const INTROSPECTION_FIELDS = new Set(["__schema", "__type"]);

/** Whether `document` selects an introspection field (`__schema`, `__type`) in any operation or fragment. */
export function usesIntrospection(document: DocumentNode): boolean {
  let found = false;
  visit(document, {
    Field(node) {
      if (!INTROSPECTION_FIELDS.has(node.name.value)) return undefined;
      found = true;
      return BREAK;
    },
  });
  return found;
}

/** Apollo plugin: anonymous introspection → UNAUTHENTICATED (HTTP 401). */
export function introspectionAuthPlugin(): ApolloServerPlugin<ApiContext> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ document, contextValue }) {
          if (contextValue.auth.kind === "anonymous" && usesIntrospection(document)) {
            throw new UnauthenticatedError("introspection needs credentials: send `Authorization: Bearer <api key>`");
          }
        },
      };
    },
  };
}
