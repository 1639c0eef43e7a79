/** @module schema/common/node
 *  The Relay `Node` interface and the `Error` interface that expected failures (union members) implement.
 *  Resolvers return plain rows; abstract types resolve from a `__typename` string on the value when present,
 *  else from the value's class (`instanceof`-style, for class instances). Use `withTypename` for rows. */
import "reflect-metadata";
import { Field, ID, InterfaceType, type ClassType } from "type-graphql";

/** The value's GraphQL type: its `__typename` string, else its constructor (type-graphql maps classes to types). */
export function resolveAbstractType(value: unknown): string | ClassType | undefined {
  if (value === null || typeof value !== "object") return undefined;
  const typename = (value as { __typename?: unknown }).__typename;
  if (typeof typename === "string") return typename;
  const ctor = (value as object).constructor;
  return ctor === Object ? undefined : (ctor as ClassType);
}

/** Tags a plain row with its GraphQL type name so it can be returned where an interface or union is expected. */
export function withTypename<T extends object>(typeName: string, row: T): T & { __typename: string } {
  return Object.assign({}, row, { __typename: typeName });
}

@InterfaceType("Node", {
  description: "An object with a global id: base64 of \"Type:uuid\"; fetch any node with `node(id:)`.",
  resolveType: resolveAbstractType,
})
export abstract class Node {
  @Field(() => ID, { description: "Global id (opaque)." })
  id!: string;
}

@InterfaceType("Error", {
  description: "An expected failure, returned as a member of a payload union (errors as data).",
  resolveType: resolveAbstractType,
})
export abstract class ErrorInterface {
  @Field(() => String)
  message!: string;
}
