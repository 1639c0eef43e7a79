/** @module web/components/DownloadButton — a button that downloads one of the api's files, with its refusal inline. */
import { useState } from "react";
import { downloadFile } from "../lib/download.ts";

export function DownloadButton({ path, fileName, label }: { path: string | null | undefined; fileName: string; label: string }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  if (!path) return null;
  return (
    <span className="download">
      <button
        type="button"
        disabled={busy}
        onClick={() => {
          setBusy(true);
          void downloadFile(path, fileName).then((problem) => {
            setError(problem);
            setBusy(false);
          });
        }}
      >
        {busy ? "Downloading…" : label}
      </button>
      {error ? (
        <span className="field-error" role="alert">
          {" "}
          {error}
        </span>
      ) : null}
    </span>
  );
}
