/** @module api/http — plain HTTP routes of the domain (streaming dataset and model uploads, downloads). */
export { mountDatasetRecordsRoute, DATASET_RECORDS_PATH } from "./dataset-records.ts";
export { mountModelUploadRoute, MODEL_UPLOAD_PATH } from "./model-upload.ts";
export { mountDownloadRoutes, DOWNLOAD_PATHS } from "./downloads.ts";
