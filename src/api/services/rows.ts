/** @module api/services/rows — row shapes the services return (Prisma rows, as resolvers receive them). */
import type { JobStatus } from "../../contracts/index.ts";

export interface JobRow {
  id: string;
  tenantId: string;
  kind: "TRAIN" | "TRAIN_EVALUATOR" | "GENERATE" | "EVALUATE";
  status: JobStatus;
  payload: unknown;
  progress: number;
  progressDetail: unknown;
  attempts: number;
  error: string | null;
  cancelRequested: boolean;
  runnerId: string | null;
  lastEventSeq: bigint;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
  updatedAt: Date;
}
