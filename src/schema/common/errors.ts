/** @module schema/common/errors
 *  Common expected-failure types: members of mutation payload unions, each implementing the `Error` interface.
 *  Construct them with `new X({...})`; the class identifies the union member. */
import "reflect-metadata";
import { Field, Float, ID, Int, ObjectType } from "type-graphql";
import { ErrorInterface } from "./node.ts";

@ObjectType("NotFoundError", { implements: ErrorInterface, description: "The id names nothing this caller can see." })
export class NotFoundError extends ErrorInterface {
  @Field(() => ID, { description: "The id that was not found (as given)." })
  id!: string;

  constructor(init?: { message?: string; id: string }) {
    super();
    if (init) {
      this.id = init.id;
      this.message = init.message ?? `no object with id "${init.id}"`;
    }
  }
}

@ObjectType("ValidationError", { implements: ErrorInterface, description: "An input field has an invalid value." })
export class ValidationError extends ErrorInterface {
  @Field(() => String, { description: "Path of the offending input field, e.g. \"name\" or \"input.betaR\"." })
  field!: string;

  constructor(init?: { message: string; field: string }) {
    super();
    if (init) {
      this.message = init.message;
      this.field = init.field;
    }
  }
}

@ObjectType("InvalidPreferenceVector", {
  implements: ErrorInterface,
  description: "A preference vector α is not on the simplex of the tenant's dimensions.",
})
export class InvalidPreferenceVector extends ErrorInterface {
  @Field(() => String, { description: "WRONG_LENGTH | NOT_FINITE | NEGATIVE | NOT_NORMALIZED" })
  code!: string;

  @Field(() => Int, { nullable: true, description: "Index of the offending entry (or of the vector in a list)." })
  index?: number | null;

  constructor(init?: { message: string; code: string; index?: number | null }) {
    super();
    if (init) {
      this.message = init.message;
      this.code = init.code;
      this.index = init.index ?? null;
    }
  }
}

@ObjectType("QuotaExceeded", { implements: ErrorInterface, description: "A tenant quota would be exceeded." })
export class QuotaExceeded extends ErrorInterface {
  @Field(() => String, { description: "Which quota, e.g. \"maxConcurrentJobs\" or \"maxDatasetBytes\"." })
  quota!: string;

  @Field(() => Float, { description: "The quota's limit." })
  limit!: number;

  @Field(() => Int, { nullable: true, description: "Seconds after which retrying may succeed, when known." })
  retryAfter?: number | null;

  constructor(init?: { message: string; quota: string; limit: number; retryAfter?: number | null }) {
    super();
    if (init) {
      this.message = init.message;
      this.quota = init.quota;
      this.limit = init.limit;
      this.retryAfter = init.retryAfter ?? null;
    }
  }
}

@ObjectType("LimitExceeded", {
  implements: ErrorInterface,
  description: "A job asks for more work than this server allows one job (contracts/job-limits.ts); nothing was queued.",
})
export class LimitExceeded extends ErrorInterface {
  @Field(() => String, { description: "Which limit, e.g. \"maxGridPoints\" or \"maxEvaluationTokens\" (its variable is PARM_MAX_…)." })
  limitName!: string;

  @Field(() => Float, { description: "The limit's value." })
  max!: number;

  @Field(() => Float, { description: "What the request asks for, in the limit's unit." })
  requested!: number;

  @Field(() => String, { description: "The input field that lowers it most directly, e.g. \"input.gridStep\"." })
  field!: string;

  constructor(init?: { message: string; limitName: string; max: number; requested: number; field: string }) {
    super();
    if (init) Object.assign(this, init);
  }
}
