/** @module web/lib/hooks
 *  React hooks over {@link execute}: `useQuery` (runs on mount and when its variables change, optional polling,
 *  `refetch`), `useMutation` (returns the typed payload; top-level errors go to the banner and resolve to null). */
import { useCallback, useEffect, useRef, useState } from "react";
import { execute, reportError, TopLevelError, type TypedDocumentString } from "./graphql.ts";

export interface QueryState<R> {
  data: R | null;
  error: TopLevelError | null;
  loading: boolean;
  refetch(): Promise<void>;
}

export function useQuery<R, V>(
  document: TypedDocumentString<R, V>,
  variables: V,
  options: { skip?: boolean; pollMs?: number } = {},
): QueryState<R> {
  const [data, setData] = useState<R | null>(null);
  const [error, setError] = useState<TopLevelError | null>(null);
  const [loading, setLoading] = useState(!options.skip);
  const varsKey = JSON.stringify(variables ?? {});
  const latest = useRef(0);

  const run = useCallback(
    async (signal?: AbortSignal) => {
      const ticket = ++latest.current;
      setLoading(true);
      try {
        const result = await execute(document, JSON.parse(varsKey) as V, { signal });
        if (ticket !== latest.current) return;
        setData(result);
        setError(null);
      } catch (e) {
        if ((e as Error).name === "AbortError" || ticket !== latest.current) return;
        const err = e instanceof TopLevelError ? e : new TopLevelError(String(e), "CLIENT_ERROR", 0);
        setError(err);
        reportError(err);
      } finally {
        if (ticket === latest.current) setLoading(false);
      }
    },
    [document, varsKey],
  );

  useEffect(() => {
    if (options.skip) return;
    const controller = new AbortController();
    void run(controller.signal);
    if (!options.pollMs) return () => controller.abort();
    const timer = setInterval(() => void run(), options.pollMs);
    return () => {
      controller.abort();
      clearInterval(timer);
    };
  }, [run, options.skip, options.pollMs]);

  const refetch = useCallback(() => run(), [run]);
  return { data, error, loading, refetch };
}

export function useMutation<R, V>(document: TypedDocumentString<R, V>): [(variables: V) => Promise<R | null>, { running: boolean }] {
  const [running, setRunning] = useState(false);
  const mutate = useCallback(
    async (variables: V) => {
      setRunning(true);
      try {
        return await execute(document, variables);
      } catch (e) {
        reportError(e);
        return null;
      } finally {
        setRunning(false);
      }
    },
    [document],
  );
  return [mutate, { running }];
}
