/** @module web/lib/download
 *  Downloads from the api's `/v1/files/…` routes. They need the Bearer key, which a plain link cannot send, so the
 *  file is fetched with it and handed to the browser as a blob (named by the answer's content-disposition). A
 *  refusal (`{ error: { type, message } }`: 404, 409 NotDownloadable …) comes back as a message. */
import { downloadBlob } from "../charts/palette.ts";
import { toTopLevelError } from "./graphql.ts";
import { currentKey, signOut } from "./session.ts";

function fileNameOf(disposition: string | null, fallback: string): string {
  if (!disposition) return fallback;
  const star = /filename\*=UTF-8''([^;]+)/i.exec(disposition);
  if (star?.[1]) return decodeURIComponent(star[1]);
  const plain = /filename="?([^";]+)"?/i.exec(disposition);
  return plain?.[1] ?? fallback;
}

/** Downloads `path` (a GraphQL `downloadUrl`); resolves with null on success, else the reason. */
export async function downloadFile(path: string, fallbackName: string): Promise<string | null> {
  const key = currentKey();
  let response: Response;
  try {
    response = await fetch(path, { headers: key ? { authorization: `Bearer ${key}` } : {} });
  } catch (error) {
    return `the api cannot be reached: ${error instanceof Error ? error.message : String(error)}`;
  }
  if (!response.ok) {
    const body = (await response.json().catch(() => null)) as { error?: { type?: string; message?: string }; errors?: { message?: unknown; extensions?: { code?: unknown } }[] } | null;
    if (body?.errors?.length) {
      const error = toTopLevelError(body.errors[0], response.status);
      if (error.code === "UNAUTHENTICATED" && key) signOut(error.message);
      return `${error.code}: ${error.message}`;
    }
    return body?.error ? `${body.error.type ?? "Error"}: ${body.error.message ?? response.status}` : `download failed (${response.status})`;
  }
  downloadBlob(await response.blob(), fileNameOf(response.headers.get("content-disposition"), fallbackName));
  return null;
}
