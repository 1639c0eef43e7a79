/**
 * @module api/ingest/runners-resolver — the admin `runners` query: live runners from their heartbeats on the bus
 * (`bus.runners`, KV `runners` on NATS). Needs `services.runnerRegistry` (runnersServiceFactory, among the default
 * service factories); without it the list is empty.
 * Platform admin only (tenants do not see the fleet).
 */
import { Ctx, Field, Float, ID, Int, ObjectType, Query, Resolver } from "type-graphql";
import { requireAdmin, type ApiContext, type ServiceFactory } from "../context.ts";
import { createRunnerRegistry, type RunnerInfo, type RunnerRegistry } from "./runner-registry.ts";

declare module "../context.ts" {
  interface ApiServices {
    /** Runner heartbeats (`bus.runners`). */
    runnerRegistry?: RunnerRegistry;
  }
}

@ObjectType("Runner", { description: "A runner process, from its latest heartbeat (expired heartbeats disappear)." })
export class RunnerType {
  @Field(() => ID)
  runnerId!: string;
  @Field(() => String)
  version!: string;
  @Field(() => String)
  hostname!: string;
  @Field(() => String, { description: 'Execution provider in use: "cpu", "cuda" or "webgpu".' })
  device!: string;
  @Field(() => String, { nullable: true, description: "CPU model, GPU name, or the WebGPU adapter's name." })
  deviceName!: string | null;
  @Field(() => Int, { nullable: true, description: "onnxruntime threads per job." })
  threads!: number | null;
  @Field(() => [String], { description: "Job kinds it pulls." })
  kinds!: string[];
  @Field(() => Int)
  totalSlots!: number;
  @Field(() => Int)
  freeSlots!: number;
  @Field(() => [String], { description: "Ids of models loaded in memory." })
  loadedModels!: string[];
  @Field(() => [ID])
  runningJobIds!: string[];
  @Field(() => String, { description: "ISO-8601 time of the heartbeat." })
  at!: string;
  @Field(() => Float, { description: "Seconds since the heartbeat." })
  ageSeconds!: number;
}

function toRunnerType(info: RunnerInfo, now: number): RunnerType {
  return Object.assign(new RunnerType(), { ...info, kinds: [...info.kinds], ageSeconds: Math.max(0, (now - Date.parse(info.at)) / 1000) });
}

@Resolver(() => RunnerType)
export class RunnersResolver {
  @Query(() => [RunnerType], { description: "Platform admin: the live runners (heartbeats in NATS KV `runners`)." })
  async runners(@Ctx() ctx: ApiContext): Promise<RunnerType[]> {
    requireAdmin(ctx);
    const registry = ctx.services.runnerRegistry;
    if (!registry) return [];
    const now = Date.now();
    return (await registry.listRunners()).map((r) => toRunnerType(r, now));
  }
}

/** Registers `services.runnerRegistry`: the heartbeats on the server's bus. */
export const runnersServiceFactory: ServiceFactory = ({ bus }) => ({ runnerRegistry: createRunnerRegistry(bus.runners) });
