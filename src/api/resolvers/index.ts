/** @module api/resolvers
 *  The resolver registry the server builds its schema from. Modules append here:
 *  - `resolvers`: type-graphql resolver classes;
 *  - `nodeTypes`: `node(id:)` loaders, one per Node type;
 *  - `httpRoutes`: extra express routes (see server/http-routes.ts), mounted before the GraphQL endpoint;
 *  - `serviceFactories`: builders of `ApiServices` members (context.ts), run once per server, results merged. */
import type { ServiceFactory } from "../context.ts";
import type { HttpRouteMount } from "../server/http-routes.ts";
import { ApiKeyResolver, apiKeyNode } from "./api-key.ts";
import { DimensionResolver, dimensionNode } from "./dimension.ts";
import { createNodeResolver } from "./node.ts";
import type { NodeTypeRegistration } from "./node-registry.ts";
import { TenantResolver, tenantNode } from "./tenant.ts";
import { ViewerResolver } from "./viewer.ts";
import { mountDatasetRecordsRoute, mountDownloadRoutes, mountModelUploadRoute } from "../http/index.ts";
import { mountOpenAiRoutes } from "../openai/index.ts";
import { datasetLimitsServiceFactory, domainServiceFactory, jobLimitsServiceFactory } from "../services/context.ts";
import { AdapterResolver, adapterNode } from "./adapter.ts";
import { DatasetResolver, datasetNode } from "./dataset.ts";
import { DeletionResolver } from "./deletion.ts";
import { downloadLinkResolvers } from "./downloads.ts";
import { EvaluationResolver, ParetoPointResolver, evaluationNode } from "./evaluation.ts";
import { GenerationResolver, GenerationTokenResolver, generationNode } from "./generation.ts";
import { JobEventResolver, JobResolver, jobNode } from "./job.ts";
import { ModelResolver, modelNode } from "./model.ts";
import { TrainingResolver } from "./training.ts";
import { RunnersResolver, runnersServiceFactory } from "../ingest/runners-resolver.ts";

export const nodeTypes: NodeTypeRegistration[] = [
  tenantNode,
  apiKeyNode,
  dimensionNode,
  datasetNode,
  modelNode,
  adapterNode,
  jobNode,
  generationNode,
  evaluationNode,
];


// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
export const resolvers: [Function, ...Function[]] = [
  createNodeResolver(nodeTypes),
  ViewerResolver,
  TenantResolver,
  ApiKeyResolver,
  DimensionResolver,
  DatasetResolver,
  ModelResolver,
  AdapterResolver,
  JobResolver,
  JobEventResolver,
  TrainingResolver,
  GenerationResolver,
  GenerationTokenResolver,
  EvaluationResolver,
  ParetoPointResolver,
  RunnersResolver,
  DeletionResolver,
  ...downloadLinkResolvers,
];

export const httpRoutes: HttpRouteMount[] = [mountDatasetRecordsRoute, mountModelUploadRoute, mountDownloadRoutes, mountOpenAiRoutes];

export const serviceFactories: ServiceFactory[] = [domainServiceFactory, datasetLimitsServiceFactory, jobLimitsServiceFactory, runnersServiceFactory];

export { tenantScopedNode, type NodeTypeRegistration, type TenantModelDelegate } from "./node-registry.ts";
export { inputId } from "./node-ids.ts";
