/** @module web/app/Layout — header (who is signed in, live-socket state, sign out), role-aware navigation, banner. */
import type { ReactNode } from "react";
import { Banner } from "../components/ui.tsx";
import { clearBanner } from "../lib/graphql.ts";
import { Link, useLocation } from "../lib/router.tsx";
import { signOut } from "../lib/session.ts";
import { useStore } from "../lib/store.ts";
import { socketStore } from "../lib/subscriptions.ts";
import { ROUTES } from "./routes.tsx";
import { canSee, useViewer } from "./viewer.ts";

export function Layout({ children }: { children: ReactNode }) {
  const viewer = useViewer();
  const { path } = useLocation();
  const socket = useStore(socketStore);
  const nav = ROUTES.filter((r) => r.nav && canSee(viewer, r.audience));
  const who = viewer.kind === "ADMIN" ? "Platform admin" : `${viewer.tenant?.name ?? "tenant"} · ${viewer.role === "TENANT_ADMIN" ? "tenant admin" : "member"}`;
  return (
    <div className="shell">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <span className="brand">PARM console</span>
        <span className="who" data-testid="viewer">
          {who}
          {viewer.apiKey ? <span className="muted"> ({viewer.apiKey.prefix})</span> : null}
        </span>
        <span className={`socket socket-${socket.status}`} data-testid="socket-status" title="Live updates (WebSocket)">
          {socket.status === "open" ? "live" : socket.status === "reconnecting" ? "reconnecting…" : socket.status === "connecting" ? "connecting…" : "idle"}
        </span>
        <button
          type="button"
          onClick={() => {
            clearBanner();
            signOut();
          }}
        >
          Sign out
        </button>
      </header>
      <nav className="sidebar" aria-label="Main">
        <ul>
          {nav.map((r) => {
            const current = sectionOf(path) === r.pattern;
            return (
              <li key={r.pattern}>
                <Link to={r.pattern} aria-current={current ? "page" : undefined}>
                  {r.nav}
                </Link>
              </li>
            );
          })}
        </ul>
      </nav>
      <main className="content" id="main" tabIndex={-1}>
        <Banner />
        {children}
      </main>
    </div>
  );
}

/** The navigation entry a path belongs to (a job's page is under Training, a tenant's under Tenants). */
function sectionOf(path: string): string {
  if (path.startsWith("/jobs/")) return "/training";
  if (path.startsWith("/admin/tenants/")) return "/admin";
  const first = `/${path.split("/").filter(Boolean)[0] ?? ""}`;
  if (first === "/admin") return path.startsWith("/admin/runners") ? "/admin/runners" : "/admin";
  return first;
}
