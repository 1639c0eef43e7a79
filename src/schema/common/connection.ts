/** @module schema/common/connection
 *  Relay cursor connections (https://relay.dev/graphql/connections.htm) and keyset pagination over Prisma.
 *
 *  - `Connection(NodeClass, "Thing")` builds the object types `ThingConnection { edges pageInfo }` and
 *    `ThingEdge { cursor node }`; resolvers return a `ConnectionResult` (what `paginate` produces).
 *  - Cursors are opaque: base64url of `"c1:<createdAt epoch ms>:<uuid>"`. Ordering is by (createdAt, id), newest
 *    first unless `order: "asc"`; ties on createdAt are broken by id, so pages never overlap or skip rows.
 *  - `first/after` pages forward, `last/before` backward; combining `first` with `last` is rejected. Page size
 *    defaults to 20 and is capped at 100. `hasPreviousPage` on a forward page (and `hasNextPage` on a backward page)
 *    is true exactly when a cursor was given, which the spec allows (§4.3: "may return true if it is efficient"). */
import "reflect-metadata";
import { ArgsType, Field, Int, ObjectType, type ClassType } from "type-graphql";
import { Max, Min } from "class-validator";

export class InvalidPaginationError extends Error {
  readonly code = "INVALID_PAGINATION" as const;
  constructor(message: string, readonly argument: string) {
    super(message);
    this.name = "InvalidPaginationError";
  }
}

@ObjectType("PageInfo")
export class PageInfo {
  @Field(() => Boolean)
  hasNextPage!: boolean;
  @Field(() => Boolean)
  hasPreviousPage!: boolean;
  @Field(() => String, { nullable: true })
  startCursor!: string | null;
  @Field(() => String, { nullable: true })
  endCursor!: string | null;
}

export const MAX_PAGE_SIZE = 100;
export const DEFAULT_PAGE_SIZE = 20;

@ArgsType()
export class ConnectionArgs {
  @Field(() => Int, { nullable: true, description: `Page forward: at most this many items (≤ ${MAX_PAGE_SIZE}).` })
  @Min(0)
  @Max(MAX_PAGE_SIZE)
  first?: number | null;

  @Field(() => String, { nullable: true, description: "Page forward: items after this cursor." })
  after?: string | null;

  @Field(() => Int, { nullable: true, description: `Page backward: at most this many items (≤ ${MAX_PAGE_SIZE}).` })
  @Min(0)
  @Max(MAX_PAGE_SIZE)
  last?: number | null;

  @Field(() => String, { nullable: true, description: "Page backward: items before this cursor." })
  before?: string | null;
}

/** The shape the connection page arguments have (ConnectionArgs or any object with the same fields). */
export interface PageArgs {
  first?: number | null;
  after?: string | null;
  last?: number | null;
  before?: string | null;
}

export interface Edge<T> {
  cursor: string;
  node: T;
}

export interface ConnectionResult<T> {
  edges: Edge<T>[];
  pageInfo: PageInfo;
}

/** Declares `<typeName>Connection` and `<typeName>Edge` for a node class; call once per node type, at module scope. */
export function Connection<TNode extends object>(NodeClass: ClassType<TNode>, typeName: string = NodeClass.name) {
  @ObjectType(`${typeName}Edge`)
  class EdgeType {
    @Field(() => String, { description: "Opaque cursor of this edge." })
    cursor!: string;
    @Field(() => NodeClass)
    node!: TNode;
  }

  @ObjectType(`${typeName}Connection`)
  class ConnectionType {
    @Field(() => [EdgeType])
    edges!: EdgeType[];
    @Field(() => PageInfo)
    pageInfo!: PageInfo;
  }
  Object.defineProperty(EdgeType, "name", { value: `${typeName}Edge` });
  Object.defineProperty(ConnectionType, "name", { value: `${typeName}Connection` });
  return ConnectionType;
}

export interface CursorPosition {
  createdAt: Date;
  id: string;
}

const CURSOR = /^c1:(\d{1,16}):([0-9a-f-]{36})$/;

export function encodeCursor(row: CursorPosition): string {
  return Buffer.from(`c1:${row.createdAt.getTime()}:${row.id}`, "utf8").toString("base64url");
}

export function decodeCursor(cursor: string, argument = "after"): CursorPosition {
  const text = /^[A-Za-z0-9_-]{1,120}$/.test(cursor) ? Buffer.from(cursor, "base64url").toString("utf8") : "";
  const m = CURSOR.exec(text);
  if (!m) throw new InvalidPaginationError(`\`${argument}\` is not a cursor returned by this API`, argument);
  return { createdAt: new Date(Number(m[1])), id: m[2]! };
}

/** What `paginate` asks the caller's fetch function for: merge `where` into the caller's own filter with AND. */
export interface KeysetQuery {
  where: Record<string, unknown>;
  orderBy: Array<{ createdAt: "asc" | "desc" } | { id: "asc" | "desc" }>;
  take: number;
}

export interface PaginateOptions {
  /** Forward order; default "desc" (newest first). */
  order?: "asc" | "desc";
  defaultPageSize?: number;
  maxPageSize?: number;
}

function pageSize(value: number | null | undefined, argument: string, max: number): number | undefined {
  if (value === null || value === undefined) return undefined;
  if (!Number.isInteger(value) || value < 0) {
    throw new InvalidPaginationError(`\`${argument}\` must be a non-negative integer`, argument);
  }
  if (value > max) throw new InvalidPaginationError(`\`${argument}\` must be at most ${max}`, argument);
  return value;
}

function keysetAfter(pos: CursorPosition, dir: "gt" | "lt"): Record<string, unknown> {
  return {
    OR: [{ createdAt: { [dir]: pos.createdAt } }, { createdAt: pos.createdAt, id: { [dir]: pos.id } }],
  };
}

/**
 * Keyset pagination by (createdAt, id). `fetch` runs the query, e.g.
 * `(q) => db.apiKey.findMany({ where: { AND: [filter, q.where] }, orderBy: q.orderBy, take: q.take })`.
 * Throws InvalidPaginationError for malformed cursors, negative or oversized page sizes, or `first` with `last`.
 */
export async function paginate<T extends CursorPosition>(
  args: PageArgs,
  fetch: (query: KeysetQuery) => Promise<T[]>,
  options: PaginateOptions = {},
): Promise<ConnectionResult<T>> {
  const max = options.maxPageSize ?? MAX_PAGE_SIZE;
  const order = options.order ?? "desc";
  const reverse = order === "desc" ? "asc" : "desc";
  const first = pageSize(args.first, "first", max);
  const last = pageSize(args.last, "last", max);
  if (first !== undefined && last !== undefined) {
    throw new InvalidPaginationError("`first` and `last` cannot be combined", "last");
  }
  const after = args.after ? decodeCursor(args.after, "after") : undefined;
  const before = args.before ? decodeCursor(args.before, "before") : undefined;
  const forwardCmp = order === "desc" ? "lt" : "gt";
  const backwardCmp = order === "desc" ? "gt" : "lt";
  const conditions: Record<string, unknown>[] = [];
  if (after) conditions.push(keysetAfter(after, forwardCmp));
  if (before) conditions.push(keysetAfter(before, backwardCmp));
  const where = conditions.length === 0 ? {} : conditions.length === 1 ? conditions[0]! : { AND: conditions };

  const backward = last !== undefined;
  const size = backward ? last : (first ?? options.defaultPageSize ?? DEFAULT_PAGE_SIZE);
  const direction = backward ? reverse : order;
  const rows =
    size === 0
      ? []
      : await fetch({ where, orderBy: [{ createdAt: direction }, { id: direction }], take: size + 1 });
  const hasMore = rows.length > size;
  const page = rows.slice(0, size);
  if (backward) page.reverse();
  const edges = page.map((node) => ({ cursor: encodeCursor(node), node }));
  const pageInfo: PageInfo = {
    hasNextPage: backward ? before !== undefined : hasMore,
    hasPreviousPage: backward ? hasMore : after !== undefined,
    startCursor: edges[0]?.cursor ?? null,
    endCursor: edges[edges.length - 1]?.cursor ?? null,
  };
  return { edges, pageInfo };
}
