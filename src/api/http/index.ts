/** @module api/http — plain HTTP routes of the domain (streaming dataset uploads). */
export { mountDatasetRecordsRoute, DATASET_RECORDS_PATH } from "./dataset-records.ts";
