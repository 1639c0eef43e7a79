/** @module schema/viewer
 *  `viewer`: who the caller is. */
import { Field, ObjectType, registerEnumType } from "type-graphql";
import { ApiKey, ApiKeyRole } from "../api-key/index.ts";
import { Tenant } from "../tenant/index.ts";

export enum ViewerKind {
  ADMIN = "ADMIN",
  TENANT = "TENANT",
}
registerEnumType(ViewerKind, { name: "ViewerKind", description: "ADMIN: the platform admin key; TENANT: a tenant API key." });

@ObjectType("Viewer")
export class Viewer {
  @Field(() => ViewerKind)
  kind!: ViewerKind;
  @Field(() => Tenant, { nullable: true, description: "The key's tenant (null for the admin)." })
  tenant!: Tenant | null;
  @Field(() => ApiKey, { nullable: true, description: "The key in use (null for the admin)." })
  apiKey!: ApiKey | null;
  @Field(() => ApiKeyRole, { nullable: true })
  role!: ApiKeyRole | null;
}
