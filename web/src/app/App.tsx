/** @module web/app/App
 *  The shell: signed out → the sign-in page; signed in → the `viewer` query decides the navigation and which
 *  routes may be shown (a MEMBER key never gets admin or key-management pages, the admin key no tenant pages). */
import { Suspense, useEffect } from "react";
import { useQuery } from "../lib/hooks.ts";
import { matchPath, navigate, useLocation } from "../lib/router.tsx";
import { sessionStore } from "../lib/session.ts";
import { useStore } from "../lib/store.ts";
import { Banner } from "../components/ui.tsx";
import { Layout } from "./Layout.tsx";
import { ROUTES, homeFor } from "./routes.tsx";
import { SignIn } from "./SignIn.tsx";
import { ViewerContext, ViewerQuery, canSee, type Viewer } from "./viewer.ts";

export function App() {
  const session = useStore(sessionStore);
  if (!session.key) return <SignIn endedBecause={session.endedBecause} />;
  return <SignedIn key={session.key} />;
}

function SignedIn() {
  const { data, error, refetch } = useQuery(ViewerQuery, {});
  if (!data) {
    return (
      <main className="center" id="main">
        <Banner />
        {error ? (
          <p>
            Could not load who you are. <button onClick={() => void refetch()}>Retry</button>
          </p>
        ) : (
          <p aria-busy="true">Loading…</p>
        )}
      </main>
    );
  }
  return (
    <ViewerContext.Provider value={data.viewer}>
      <Layout>
        <RouteView viewer={data.viewer} />
      </Layout>
    </ViewerContext.Provider>
  );
}

function RouteView({ viewer }: { viewer: Viewer }) {
  const { path } = useLocation();
  const found = ROUTES.map((r) => ({ route: r, params: matchPath(r.pattern, path) })).find((m) => m.params !== null);
  const redirect = path === "/sign-in" || (path === "/" && viewer.kind === "ADMIN");
  useEffect(() => {
    if (redirect) navigate(homeFor(viewer.kind), { replace: true });
  }, [redirect, viewer.kind]);
  if (redirect) return null;
  if (!found) {
    return (
      <div className="page-title">
        <h1>Not found</h1>
        <p>No page at {path}.</p>
      </div>
    );
  }
  if (!canSee(viewer, found.route.audience)) {
    return (
      <div className="page-title" data-testid="forbidden">
        <h1>Not available</h1>
        <p>
          This page is for {found.route.audience === "admin" ? "the platform admin" : found.route.audience === "tenant-admin" ? "tenant admins" : "tenant keys"}; your
          key cannot open it.
        </p>
      </div>
    );
  }
  const Page = found.route.page;
  return (
    <Suspense fallback={<p aria-busy="true">Loading…</p>}>
      <Page params={found.params ?? {}} />
    </Suspense>
  );
}
