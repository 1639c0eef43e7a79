/** @module web/app/viewer — who is signed in (the `viewer` query), shared with every page through context. */
import { createContext, useContext } from "react";
import { graphql } from "../gql/index.ts";
import type { ResultOf } from "../lib/graphql.ts";

export const ViewerQuery = graphql(`
  query Viewer {
    viewer {
      kind
      role
      tenant {
        id
        name
        maxConcurrentJobs
        mutationsPerMinute
      }
      apiKey {
        id
        name
        prefix
        role
      }
    }
  }
`);

export type Viewer = ResultOf<typeof ViewerQuery>["viewer"];

/** What a page may be shown to. */
export type Audience = "admin" | "tenant" | "tenant-admin";

export function canSee(viewer: Viewer, audience: Audience): boolean {
  switch (audience) {
    case "admin":
      return viewer.kind === "ADMIN";
    case "tenant":
      return viewer.kind === "TENANT";
    case "tenant-admin":
      return viewer.kind === "TENANT" && viewer.role === "TENANT_ADMIN";
  }
}

export const ViewerContext = createContext<Viewer | null>(null);

export function useViewer(): Viewer {
  const viewer = useContext(ViewerContext);
  if (!viewer) throw new Error("useViewer outside a signed-in page");
  return viewer;
}
