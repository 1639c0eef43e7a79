/** @module schema/dimension
 *  Preference dimensions of a tenant. `position` is the dimension's index in every preference vector α. */
import { Field, Float, ID, InputType, Int, ObjectType, createUnionType, registerEnumType } from "type-graphql";
import { IsOptional, Length, Matches } from "class-validator";
import { Node, NotFoundError, ResourceInUse, ValidationError, resolveAbstractType } from "../common/index.ts";

@ObjectType("PreferenceDimension", { implements: Node })
export class PreferenceDimension extends Node {
  @Field(() => String)
  name!: string;
  @Field(() => String)
  description!: string;
  @Field(() => Float, { description: "β_r of the ARM loss for this dimension (> 0)." })
  betaR!: number;
  @Field(() => Int, { description: "Index of this dimension in α (0-based, dense)." })
  position!: number;
  @Field(() => Date)
  createdAt!: Date;
  @Field(() => Date)
  updatedAt!: Date;
}

export const DIMENSION_NAME_PATTERN = /^[A-Za-z][A-Za-z0-9_-]{0,62}$/;
const NAME_MESSAGE = "name must be 1–63 of A-Z a-z 0-9 _ - starting with a letter";

@InputType("CreateDimensionInput")
export class CreateDimensionInput {
  @Field(() => String, { description: "Unique within the tenant." })
  @Matches(DIMENSION_NAME_PATTERN, { message: NAME_MESSAGE })
  name!: string;

  @Field(() => String, { defaultValue: "" })
  @Length(0, 2000)
  description!: string;

  @Field(() => Float, { defaultValue: 0.01, description: "β_r > 0, finite." })
  betaR!: number;
}

@InputType("UpdateDimensionInput")
export class UpdateDimensionInput {
  @Field(() => ID)
  id!: string;

  @Field(() => String, { nullable: true })
  @IsOptional()
  @Matches(DIMENSION_NAME_PATTERN, { message: NAME_MESSAGE })
  name?: string | null;

  @Field(() => String, { nullable: true })
  @IsOptional()
  @Length(0, 2000)
  description?: string | null;

  @Field(() => Float, { nullable: true })
  betaR?: number | null;
}

@InputType("DeleteDimensionInput")
export class DeleteDimensionInput {
  @Field(() => ID)
  id!: string;
}

@ObjectType("CreateDimensionSuccess")
export class CreateDimensionSuccess {
  @Field(() => PreferenceDimension)
  dimension!: PreferenceDimension;
  constructor(init?: { dimension: PreferenceDimension }) {
    if (init) Object.assign(this, init);
  }
}

@ObjectType("UpdateDimensionSuccess")
export class UpdateDimensionSuccess {
  @Field(() => PreferenceDimension)
  dimension!: PreferenceDimension;
  constructor(init?: { dimension: PreferenceDimension }) {
    if (init) Object.assign(this, init);
  }
}

@ObjectType("DeleteDimensionSuccess")
export class DeleteDimensionSuccess {
  @Field(() => ID, { description: "Global id of the deleted dimension." })
  deletedId!: string;
  @Field(() => [PreferenceDimension], { description: "The remaining dimensions, re-packed to positions 0..k-1." })
  dimensions!: PreferenceDimension[];
  constructor(init?: { deletedId: string; dimensions: PreferenceDimension[] }) {
    if (init) Object.assign(this, init);
  }
}

export const CreateDimensionPayload = createUnionType({
  name: "CreateDimensionPayload",
  types: () => [CreateDimensionSuccess, ValidationError] as const,
  resolveType: resolveAbstractType,
});
export const UpdateDimensionPayload = createUnionType({
  name: "UpdateDimensionPayload",
  types: () => [UpdateDimensionSuccess, ValidationError, NotFoundError] as const,
  resolveType: resolveAbstractType,
});
export const DeleteDimensionPayload = createUnionType({
  name: "DeleteDimensionPayload",
  types: () => [DeleteDimensionSuccess, ValidationError, NotFoundError, ResourceInUse] as const,
  resolveType: resolveAbstractType,
});

export enum DimensionChangeKind {
  CREATED = "CREATED",
  UPDATED = "UPDATED",
  DELETED = "DELETED",
}
registerEnumType(DimensionChangeKind, { name: "DimensionChangeKind" });

@ObjectType("DimensionChange", { description: "A change to the tenant's dimensions (positions may have moved)." })
export class DimensionChange {
  @Field(() => DimensionChangeKind)
  kind!: DimensionChangeKind;
  @Field(() => ID, { description: "Global id of the dimension that changed." })
  dimensionId!: string;
  @Field(() => [PreferenceDimension], { description: "All dimensions after the change, by position." })
  dimensions!: PreferenceDimension[];
}
