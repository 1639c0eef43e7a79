/** @module api/services/rows — the job row the services return (the generated Prisma type). */
import type { Job } from "../db/index.ts";

export type JobRow = Job;
