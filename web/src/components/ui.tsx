/** @module web/components/ui — the console's small building blocks: the error banner, progress bars, status badges,
 *  copy buttons, the drag-and-drop file zone, sections. */
import { useEffect, useId, useRef, useState, type DragEvent, type ReactNode } from "react";
import { bannerStore, dismissBanner } from "../lib/graphql.ts";
import { useStore } from "../lib/store.ts";
import { formatSeconds } from "../lib/format.ts";

/** Top-level errors (UNAUTHENTICATED, FORBIDDEN, RATE_LIMITED with retry-after, QUERY_TOO_COMPLEX …). */
export function Banner() {
  const messages = useStore(bannerStore);
  if (messages.length === 0) return null;
  return (
    <div className="banner" role="alert" aria-live="assertive">
      {messages.map((m) => (
        <div className="banner-item" key={m.id} data-code={m.code}>
          <span>
            <strong>{m.code}</strong> {m.text}
            {m.requestId ? <span className="muted"> (request {m.requestId})</span> : null}
          </span>
          <button type="button" className="link" onClick={() => dismissBanner(m.id)} aria-label={`Dismiss ${m.code} message`}>
            Dismiss
          </button>
        </div>
      ))}
    </div>
  );
}

export function ProgressBar({ value, label, eta }: { value: number | null; label: string; eta?: number | null }) {
  const pct = value === null ? null : Math.max(0, Math.min(100, value));
  return (
    <div className="progress">
      <div
        className="progress-track"
        role="progressbar"
        aria-label={label}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={pct === null ? undefined : Math.round(pct)}
      >
        <div className="progress-fill" style={{ width: `${pct ?? 0}%` }} />
      </div>
      <span className="progress-text">
        {pct === null ? "—" : `${pct.toFixed(pct < 10 ? 1 : 0)} %`}
        {eta !== undefined && eta !== null ? ` · ETA ${formatSeconds(eta)}` : ""}
      </span>
    </div>
  );
}

const STATUS_TONE: Record<string, string> = {
  QUEUED: "neutral",
  RUNNING: "info",
  SUCCEEDED: "good",
  READY: "good",
  FAILED: "bad",
  REJECTED: "bad",
  CANCELLED: "warn",
  EMPTY: "neutral",
};

export function StatusBadge({ status }: { status: string }) {
  return <span className={`badge tone-${STATUS_TONE[status] ?? "neutral"}`}>{status}</span>;
}

export function CopyButton({ text, label = "Copy" }: { text: string; label?: string }) {
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
      setCopied(true);
    } catch {
      setCopied(false);
    }
  };
  useEffect(() => {
    if (!copied) return;
    const t = setTimeout(() => setCopied(false), 2000);
    return () => clearTimeout(t);
  }, [copied]);
  return (
    <button type="button" onClick={() => void copy()}>
      {copied ? "Copied" : label}
    </button>
  );
}

/** A file target: drop a file on it, or press its button (keyboard) to pick one. */
export function DropZone({ label, accept, onFile, disabled }: { label: string; accept?: string; onFile(file: File): void; disabled?: boolean }) {
  const [over, setOver] = useState(false);
  const input = useRef<HTMLInputElement>(null);
  const id = useId();
  const onDrop = (e: DragEvent<HTMLDivElement>) => {
    e.preventDefault();
    setOver(false);
    const file = e.dataTransfer.files[0];
    if (file && !disabled) onFile(file);
  };
  return (
    <div
      className={`dropzone${over ? " over" : ""}${disabled ? " disabled" : ""}`}
      aria-label={label}
      role="group"
      onDragOver={(e) => {
        e.preventDefault();
        setOver(true);
      }}
      onDragLeave={() => setOver(false)}
      onDrop={onDrop}
      data-testid="dropzone"
    >
      <p>
        {label}: drop a file here, or{" "}
        <button type="button" className="link" disabled={disabled} onClick={() => input.current?.click()}>
          choose one
        </button>
      </p>
      <label htmlFor={id} className="visually-hidden">
        {label} file
      </label>
      <input
        id={id}
        ref={input}
        type="file"
        accept={accept}
        className="visually-hidden"
        tabIndex={-1}
        disabled={disabled}
        onChange={(e) => {
          const file = e.target.files?.[0];
          if (file) onFile(file);
          e.target.value = "";
        }}
      />
    </div>
  );
}

export function Section({ title, children, actions, id }: { title: string; children: ReactNode; actions?: ReactNode; id?: string }) {
  const headingId = useId();
  return (
    <section className="card" aria-labelledby={headingId} id={id}>
      <header className="card-header">
        <h2 id={headingId}>{title}</h2>
        {actions ? <div className="card-actions">{actions}</div> : null}
      </header>
      {children}
    </section>
  );
}

export function PageTitle({ title, children }: { title: string; children?: ReactNode }) {
  useEffect(() => {
    document.title = `${title} · PARM console`;
  }, [title]);
  return (
    <div className="page-title">
      <h1>{title}</h1>
      {children ? <p className="lead">{children}</p> : null}
    </div>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <p className="empty">{children}</p>;
}
