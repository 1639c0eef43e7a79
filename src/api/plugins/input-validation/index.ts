/** @module api/plugins/input-validation
 *  Errors as data for input validation: a mutation whose payload union contains `ValidationError` returns one
 *  (naming the first invalid field, e.g. `input.name`, and its constraint messages) instead of a top-level
 *  "Argument Validation Error" when class-validator rejects its arguments. Other fields keep the top-level
 *  BAD_USER_INPUT error. Anonymous callers get UNAUTHENTICATED first (validation runs before resolver guards).
 *
 *  The one boundary check for U+0000 (PostgreSQL stores it in neither text nor jsonb): every field of the schema
 *  that takes arguments refuses a NUL in any string of them (names, descriptions, prompts, stop strings, ids,
 *  JSON values …) before its resolver runs, as a `ValidationError` naming the path (e.g. `input.sampling.stop[1]`)
 *  where its mutation's payload union has one, else as a top-level BAD_USER_INPUT whose `argument` is the path.
 *  Applied once to the built schema by wrapping resolvers. */
import {
  defaultFieldResolver,
  isNonNullType,
  isObjectType,
  isUnionType,
  type GraphQLField,
  type GraphQLFieldResolver,
  type GraphQLSchema,
} from "graphql";
import { findNulCharacter } from "../../../contracts/nul-character.ts";
import { ValidationError } from "../../../schema/common/index.ts";
import { BadUserInputError, UnauthenticatedError } from "../../errors/index.ts";

type Resolver = GraphQLFieldResolver<unknown, unknown>;

interface ConstraintFailure {
  property: string;
  constraints?: Record<string, string>;
  children?: ConstraintFailure[];
}

function firstFailure(errors: ConstraintFailure[], prefix: string): { field: string; message: string } | null {
  for (const e of errors) {
    const field = prefix ? `${prefix}.${e.property}` : e.property;
    if (e.constraints && Object.keys(e.constraints).length > 0) {
      return { field, message: Object.values(e.constraints).join("; ") };
    }
    const nested = firstFailure(e.children ?? [], field);
    if (nested) return nested;
  }
  return null;
}

/** The ValidationError for a thrown type-graphql ArgumentValidationError, or null for any other error. */
export function validationErrorFromArgumentError(error: unknown, argumentName: string): ValidationError | null {
  const failures = (error as { extensions?: { validationErrors?: unknown } } | null)?.extensions?.validationErrors;
  if (!Array.isArray(failures)) return null;
  const first = firstFailure(failures as ConstraintFailure[], argumentName);
  return first ? new ValidationError(first) : null;
}

/** Whether the field's (non-null) type is a union with a ValidationError member. */
function returnsValidationError(field: GraphQLField<unknown, unknown>): boolean {
  const type = isNonNullType(field.type) ? field.type.ofType : field.type;
  return isUnionType(type) && type.getTypes().some((t) => t.name === "ValidationError");
}

function isAnonymous(context: unknown): boolean {
  return (context as { auth?: { kind?: string } } | null)?.auth?.kind === "anonymous";
}

/** The message of a refused NUL (shared by both error tiers). */
function nulMessage(path: string): string {
  return `${path}: must not contain the NUL character (U+0000)`;
}

/**
 * Wraps every Mutation field whose (non-null) union payload has a ValidationError member, then refuses NUL
 * characters in every field's arguments (see the module contract). Returns the count of wrapped mutations.
 */
export function returnValidationErrorsAsData(schema: GraphQLSchema): number {
  const mutation = schema.getMutationType();
  let wrapped = 0;
  for (const field of Object.values(mutation?.getFields() ?? {})) {
    const resolve = field.resolve as Resolver | undefined;
    if (!returnsValidationError(field) || !resolve) continue;
    const argumentName = field.args.length === 1 ? field.args[0]!.name : "";
    field.resolve = async (source, args, context, info) => {
      try {
        return await resolve(source, args, context, info);
      } catch (error) {
        const asData = validationErrorFromArgumentError(error, argumentName);
        if (asData) {
          if (isAnonymous(context)) throw new UnauthenticatedError();
          return asData;
        }
        throw error;
      }
    };
    wrapped += 1;
  }
  refuseNulCharacters(schema);
  return wrapped;
}

/** `resolve` (or `subscribe`) guarded by the NUL check of its arguments. */
function guardResolver(resolve: Resolver, asData: boolean): Resolver {
  return (source, args, context, info) => {
    const path = findNulCharacter(args);
    if (path === null) return resolve(source, args, context, info);
    if (!asData) throw new BadUserInputError(nulMessage(path), { argument: path });
    if (isAnonymous(context)) throw new UnauthenticatedError();
    return new ValidationError({ field: path, message: nulMessage(path) });
  };
}

/**
 * Wraps every field with arguments of every object type (root fields' `subscribe` too) so that a U+0000 in any
 * argument string is refused before the field resolves. Returns the count of wrapped fields.
 */
export function refuseNulCharacters(schema: GraphQLSchema): number {
  const mutation = schema.getMutationType();
  let wrapped = 0;
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isObjectType(type) || type.name.startsWith("__")) continue;
    for (const field of Object.values(type.getFields())) {
      if (field.args.length === 0) continue;
      const asData = type === mutation && returnsValidationError(field);
      field.resolve = guardResolver((field.resolve as Resolver | undefined) ?? defaultFieldResolver, asData);
      if (field.subscribe) field.subscribe = guardResolver(field.subscribe as Resolver, false);
      wrapped += 1;
    }
  }
  return wrapped;
}
