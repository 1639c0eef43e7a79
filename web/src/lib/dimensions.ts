/** @module web/lib/dimensions — the tenant's preference dimensions (α order), kept live by `dimensionsChanged`. */
import { useEffect, useState } from "react";
import { graphql } from "../gql/index.ts";
import type { ResultOf } from "./graphql.ts";
import { useQuery } from "./hooks.ts";
import { subscribeResumable } from "./subscriptions.ts";

export const DimensionsQuery = graphql(`
  query Dimensions {
    dimensions {
      id
      name
      description
      betaR
      position
      createdAt
    }
  }
`);

const DimensionsChanged = graphql(`
  subscription DimensionsChanged {
    dimensionsChanged {
      kind
      dimensionId
      dimensions {
        id
        name
        description
        betaR
        position
        createdAt
      }
    }
  }
`);

export type Dimension = ResultOf<typeof DimensionsQuery>["dimensions"][number];

/** The dimensions in position order; `live` streams changes made anywhere (another tab, another key). */
export function useDimensions(options: { live?: boolean } = {}): { dimensions: Dimension[] | null; refetch(): Promise<void> } {
  const { data, refetch } = useQuery(DimensionsQuery, {});
  const [live, setLive] = useState<Dimension[] | null>(null);
  useEffect(() => setLive(null), [data]);
  useEffect(() => {
    if (!options.live) return;
    return subscribeResumable(DimensionsChanged, () => ({}), {
      next: ({ dimensionsChanged }) => setLive([...dimensionsChanged.dimensions]),
      error: () => undefined,
      complete: () => undefined,
    });
  }, [options.live]);
  const dimensions = live ?? (data ? [...data.dimensions] : null);
  return { dimensions: dimensions ? dimensions.sort((a, b) => a.position - b.position) : null, refetch };
}

export function dimensionName(dimensions: readonly Dimension[] | null, id: string): string {
  return dimensions?.find((d) => d.id === id)?.name ?? "(deleted dimension)";
}
