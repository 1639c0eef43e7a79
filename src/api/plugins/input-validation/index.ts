/** @module api/plugins/input-validation
 *  Errors as data for input validation: a mutation whose payload union contains `ValidationError` returns one
 *  (naming the first invalid field, e.g. `input.name`, and its constraint messages) instead of a top-level
 *  "Argument Validation Error" when class-validator rejects its arguments. Other fields keep the top-level
 *  BAD_USER_INPUT error. Anonymous callers get UNAUTHENTICATED first (validation runs before resolver guards).
 *  Applied once to the built schema by wrapping the affected Mutation resolvers. */
import { isNonNullType, isUnionType, type GraphQLFieldResolver, type GraphQLSchema } from "graphql";
import { ValidationError } from "../../../schema/common/index.ts";
import { UnauthenticatedError } from "../../errors/index.ts";

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

/** Wraps every Mutation field whose (non-null) union payload has a ValidationError member. Returns the count. */
export function returnValidationErrorsAsData(schema: GraphQLSchema): number {
  const mutation = schema.getMutationType();
  if (!mutation) return 0;
  let wrapped = 0;
  for (const field of Object.values(mutation.getFields())) {
    const type = isNonNullType(field.type) ? field.type.ofType : field.type;
    if (!isUnionType(type) || !type.getTypes().some((t) => t.name === "ValidationError")) continue;
    const resolve = field.resolve as GraphQLFieldResolver<unknown, unknown> | undefined;
    if (!resolve) continue;
    const argumentName = field.args.length === 1 ? field.args[0]!.name : "";
    field.resolve = async (source, args, context, info) => {
      try {
        return await resolve(source, args, context, info);
      } catch (error) {
        const asData = validationErrorFromArgumentError(error, argumentName);
        if (asData) {
          if ((context as { auth?: { kind?: string } } | null)?.auth?.kind === "anonymous") throw new UnauthenticatedError();
          return asData;
        }
        throw error;
      }
    };
    wrapped += 1;
  }
  return wrapped;
}
