import { test } from "node:test";
import assert from "node:assert/strict";
import { InvalidPaginationError, decodeCursor, encodeCursor, paginate, type ConnectionResult, type KeysetQuery } from "./connection.ts";

interface Row {
  id: string;
  createdAt: Date;
}

const uuid = (n: number) => `00000000-0000-4000-8000-${n.toString(16).padStart(12, "0")}`;

/** 23 rows; several share a createdAt so ties are broken by id. */
const ROWS: Row[] = Array.from({ length: 23 }, (_, i) => ({
  id: uuid((i * 7919) % 1000),
  createdAt: new Date(1_700_000_000_000 + Math.floor(i / 3) * 1000),
}));

function compare(a: Row, b: Row): number {
  return a.createdAt.getTime() - b.createdAt.getTime() || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/** Evaluates the Prisma-style keyset query `paginate` produces against ROWS. */
function matches(row: Row, where: Record<string, unknown>): boolean {
  if ("AND" in where) return (where.AND as Record<string, unknown>[]).every((w) => matches(row, w));
  if ("OR" in where) return (where.OR as Record<string, unknown>[]).some((w) => matches(row, w));
  for (const [field, cond] of Object.entries(where)) {
    const value = field === "createdAt" ? row.createdAt.getTime() : row.id;
    if (cond instanceof Date) {
      if (value !== cond.getTime()) return false;
      continue;
    }
    for (const [op, raw] of Object.entries(cond as Record<string, unknown>)) {
      const other = raw instanceof Date ? raw.getTime() : (raw as string);
      if (op === "lt" && !(value < other)) return false;
      if (op === "gt" && !(value > other)) return false;
    }
  }
  return true;
}

let fetches = 0;
async function fetchRows(q: KeysetQuery): Promise<Row[]> {
  fetches += 1;
  const dir = (q.orderBy[0] as { createdAt: "asc" | "desc" }).createdAt;
  assert.equal((q.orderBy[1] as { id: string }).id, dir);
  const sorted = ROWS.filter((r) => matches(r, q.where)).sort(compare);
  if (dir === "desc") sorted.reverse();
  return sorted.slice(0, q.take);
}

for (const order of ["desc", "asc"] as const) {
  test(`forward pages of every size (${order}) concatenate to the full order without overlap`, async () => {
    const expected = [...ROWS].sort(compare);
    if (order === "desc") expected.reverse();
    for (let size = 1; size <= 25; size++) {
      const seen: string[] = [];
      let after: string | null = null;
      for (let guard = 0; guard < 30; guard++) {
        const page: ConnectionResult<Row> = await paginate({ first: size, after }, fetchRows, { order });
        seen.push(...page.edges.map((e) => e.node.id));
        assert.equal(page.pageInfo.hasPreviousPage, after !== null);
        assert.equal(page.pageInfo.startCursor, page.edges[0]?.cursor ?? null);
        if (!page.pageInfo.hasNextPage) break;
        after = page.pageInfo.endCursor;
      }
      assert.deepEqual(seen, expected.map((r) => r.id), `size ${size}`);
    }
  });

  test(`backward pages of every size (${order}) concatenate to the full order`, async () => {
    const expected = [...ROWS].sort(compare);
    if (order === "desc") expected.reverse();
    for (let size = 1; size <= 25; size++) {
      const seen: string[] = [];
      let before: string | null = null;
      for (let guard = 0; guard < 30; guard++) {
        const page: ConnectionResult<Row> = await paginate({ last: size, before }, fetchRows, { order });
        seen.unshift(...page.edges.map((e) => e.node.id));
        assert.equal(page.pageInfo.hasNextPage, before !== null);
        if (!page.pageInfo.hasPreviousPage) break;
        before = page.pageInfo.startCursor;
      }
      assert.deepEqual(seen, expected.map((r) => r.id), `size ${size}`);
    }
  });
}

test("after and before together bound a window", async () => {
  const all = (await paginate({ first: 100 }, fetchRows)).edges;
  const page = await paginate({ first: 100, after: all[3]!.cursor, before: all[9]!.cursor }, fetchRows);
  assert.deepEqual(page.edges.map((e) => e.node.id), all.slice(4, 9).map((e) => e.node.id));
});

test("default page size 20; first: 0 returns nothing without a query", async () => {
  assert.equal((await paginate({}, fetchRows)).edges.length, 20);
  const before = fetches;
  const empty = await paginate({ first: 0 }, fetchRows);
  assert.equal(fetches, before);
  assert.deepEqual(empty.edges, []);
  assert.equal(empty.pageInfo.startCursor, null);
});

test("cursors are opaque, round-trip, and malformed ones are rejected", () => {
  const row = ROWS[5]!;
  const cursor = encodeCursor(row);
  assert.doesNotMatch(cursor, /[:=+/]/);
  assert.deepEqual(decodeCursor(cursor), { createdAt: row.createdAt, id: row.id });
  for (const bad of ["", "abc", Buffer.from("c1:x:y").toString("base64url"), Buffer.from(`c2:1:${row.id}`).toString("base64url"), "%%%"]) {
    assert.throws(() => decodeCursor(bad, "before"), (e: unknown) => e instanceof InvalidPaginationError && e.argument === "before");
  }
});

test("invalid page arguments are rejected before querying", async () => {
  const before = fetches;
  for (const args of [{ first: 1, last: 1 }, { first: -1 }, { last: 101 }, { first: 1.5 }, { after: "nope" }]) {
    await assert.rejects(paginate(args, fetchRows), InvalidPaginationError, JSON.stringify(args));
  }
  assert.equal(fetches, before);
});
