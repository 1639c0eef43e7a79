/** @module web/lib/upload
 *  Streaming uploads to the api's HTTP routes (`POST /v1/datasets/:id/records`, `POST /v1/models`) with progress.
 *  XMLHttpRequest, because fetch reports no upload progress; the browser streams the File from disk, and the api
 *  parses it as it arrives (never buffered whole). Answers are JSON: the success body, or `{ error: { type, … } }`
 *  (an expected failure: 422 / 413 / 404 / 400), or GraphQL-shaped `{ errors }` (401 / 403 / 429). */
import { toTopLevelError, TopLevelError } from "./graphql.ts";
import { currentKey, signOut } from "./session.ts";

export interface UploadProgress {
  loaded: number;
  total: number;
}

export type UploadOutcome<S, E> = { ok: true; status: number; body: S } | { ok: false; status: number; error: E };

export interface UploadHandle<S, E> {
  done: Promise<UploadOutcome<S, E>>;
  abort(): void;
}

export function upload<S, E>(url: string, file: Blob, onProgress: (p: UploadProgress) => void): UploadHandle<S, E> {
  const xhr = new XMLHttpRequest();
  const key = currentKey();
  const done = new Promise<UploadOutcome<S, E>>((resolve, reject) => {
    xhr.open("POST", url);
    if (key) xhr.setRequestHeader("authorization", `Bearer ${key}`);
    xhr.setRequestHeader("content-type", "application/octet-stream");
    xhr.responseType = "json";
    xhr.upload.onprogress = (e) => onProgress({ loaded: e.loaded, total: e.lengthComputable ? e.total : file.size });
    xhr.onerror = () => reject(new TopLevelError("the upload was interrupted", "NETWORK", 0));
    xhr.onabort = () => reject(new TopLevelError("upload cancelled", "ABORTED", 0));
    xhr.onload = () => {
      const body = xhr.response as { error?: E; errors?: { message?: unknown; extensions?: { code?: unknown; retryAfter?: unknown } }[] } | null;
      if (xhr.status >= 200 && xhr.status < 300) return resolve({ ok: true, status: xhr.status, body: body as S });
      if (body && "error" in body && body.error) return resolve({ ok: false, status: xhr.status, error: body.error });
      const error = toTopLevelError(body?.errors?.[0], xhr.status, xhr.getResponseHeader("x-request-id"));
      if (error.code === "UNAUTHENTICATED" && key && key === currentKey()) signOut(error.message);
      reject(error);
    };
    onProgress({ loaded: 0, total: file.size });
    xhr.send(file);
  });
  return { done, abort: () => xhr.abort() };
}
