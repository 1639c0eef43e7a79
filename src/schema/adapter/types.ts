/** @module schema/adapter/types — GraphQL surface of trained ARM adapters (PARM or GenARM). */
import { Field, Float, ID, Int, ObjectType, registerEnumType } from "type-graphql";
import { Connection, JSONScalar, Node } from "../common/index.ts";

export const AdapterMethod = { PARM: "PARM", GENARM: "GENARM" } as const;
export type AdapterMethod = (typeof AdapterMethod)[keyof typeof AdapterMethod];
registerEnumType(AdapterMethod, {
  name: "AdapterMethod",
  description: "PARM: one PBLoRA adapter over all dimensions (α is an input); GENARM: one LoRA ARM per dimension.",
});

@ObjectType("Adapter", { implements: Node })
export class Adapter extends Node {
  @Field(() => String)
  name!: string;
  @Field(() => AdapterMethod)
  method!: AdapterMethod;
  @Field(() => ID, { description: "Global id of the ARM backbone Model." })
  baseModelId!: string;
  @Field(() => [ID], { description: "Global ids of the dimensions, in α order." })
  dimensionIds!: string[];
  @Field(() => [String], { description: "Dimension names, in α order." })
  dimensionNames!: string[];
  @Field(() => Int)
  r1!: number;
  @Field(() => Int)
  r2!: number;
  @Field(() => Float)
  loraAlpha!: number;
  @Field(() => [String])
  targets!: string[];
  @Field(() => JSONScalar)
  trainingConfig!: unknown;
  @Field(() => JSONScalar, { nullable: true })
  metrics!: unknown;
  @Field(() => String, { nullable: true })
  artifactDigest!: string | null;
  @Field(() => ID, { nullable: true, description: "Global id of the training Job." })
  jobId!: string | null;
  @Field(() => Date)
  createdAt!: Date;
}

export const AdapterConnection = Connection(Adapter, "Adapter");
