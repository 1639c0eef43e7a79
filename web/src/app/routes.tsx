/** @module web/app/routes
 *  Client routes, who may see each, and the navigation. Every page is its own chunk (React.lazy), so the first
 *  page loads only the shell, and uPlot only comes with the pages that chart. */
import { lazy, type ComponentType, type LazyExoticComponent } from "react";
import type { Audience } from "./viewer.ts";

export interface RouteDef {
  pattern: string;
  audience: Audience;
  page: LazyExoticComponent<ComponentType<{ params: Record<string, string> }>>;
  /** Shown in the navigation under this label (detail routes are not). */
  nav?: string;
}

const Overview = lazy(() => import("../pages/Overview.tsx"));
const Dimensions = lazy(() => import("../pages/Dimensions.tsx"));
const Datasets = lazy(() => import("../pages/Datasets.tsx"));
const DatasetDetail = lazy(() => import("../pages/DatasetDetail.tsx"));
const Models = lazy(() => import("../pages/Models.tsx"));
const Training = lazy(() => import("../pages/Training.tsx"));
const JobDetail = lazy(() => import("../pages/JobDetail.tsx"));
const Playground = lazy(() => import("../pages/Playground.tsx"));
const Evaluations = lazy(() => import("../pages/Evaluations.tsx"));
const EvaluationDetail = lazy(() => import("../pages/EvaluationDetail.tsx"));
const ApiKeys = lazy(() => import("../pages/ApiKeys.tsx"));
const AdminTenants = lazy(() => import("../pages/AdminTenants.tsx"));
const AdminTenant = lazy(() => import("../pages/AdminTenant.tsx"));
const AdminRunners = lazy(() => import("../pages/AdminRunners.tsx"));

export const ROUTES: readonly RouteDef[] = [
  { pattern: "/", audience: "tenant", page: Overview, nav: "Overview" },
  { pattern: "/dimensions", audience: "tenant", page: Dimensions, nav: "Dimensions" },
  { pattern: "/datasets", audience: "tenant", page: Datasets, nav: "Datasets" },
  { pattern: "/datasets/:id", audience: "tenant", page: DatasetDetail },
  { pattern: "/models", audience: "tenant", page: Models, nav: "Models" },
  { pattern: "/training", audience: "tenant", page: Training, nav: "Training" },
  { pattern: "/jobs/:id", audience: "tenant", page: JobDetail },
  { pattern: "/playground", audience: "tenant", page: Playground, nav: "Playground" },
  { pattern: "/evaluations", audience: "tenant", page: Evaluations, nav: "Evaluations" },
  { pattern: "/evaluations/:id", audience: "tenant", page: EvaluationDetail },
  { pattern: "/keys", audience: "tenant-admin", page: ApiKeys, nav: "API keys" },
  { pattern: "/admin", audience: "admin", page: AdminTenants, nav: "Tenants" },
  { pattern: "/admin/tenants/:id", audience: "admin", page: AdminTenant },
  { pattern: "/admin/runners", audience: "admin", page: AdminRunners, nav: "Runner fleet" },
];

/** Where a viewer lands after signing in. */
export function homeFor(kind: "ADMIN" | "TENANT"): string {
  return kind === "ADMIN" ? "/admin" : "/";
}
