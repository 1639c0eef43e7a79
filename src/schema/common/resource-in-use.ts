/** @module schema/common/resource-in-use
 *  `ResourceInUse`: the payload member of a delete (or any change) refused because other objects still use the
 *  object; nothing was changed. */
import "reflect-metadata";
import { Field, ID, ObjectType } from "type-graphql";
import { ErrorInterface } from "./node.ts";

/** Most ids `usedBy` lists; the message gives the total. */
export const MAX_USED_BY = 50;

@ObjectType("ResourceInUse", {
  implements: ErrorInterface,
  description: "The object is still used by others and was not changed; delete, cancel or finish those first.",
})
export class ResourceInUse extends ErrorInterface {
  @Field(() => [ID], {
    description: `Global ids of (at most ${MAX_USED_BY} of) the objects that use it: datasets, models, adapters, evaluations, jobs.`,
  })
  usedBy!: string[];

  constructor(init?: { message: string; usedBy: string[] }) {
    super();
    if (init) {
      this.message = init.message;
      this.usedBy = init.usedBy.slice(0, MAX_USED_BY);
    }
  }
}
