/** @module web/app/SignIn
 *  Sign in with an API key (the platform admin key or a tenant key). The key is checked with the `viewer` query
 *  before it is kept (in sessionStorage); a refused key is reported next to the field. */
import { useEffect, useState, type FormEvent } from "react";
import { execute, TopLevelError } from "../lib/graphql.ts";
import { navigate } from "../lib/router.tsx";
import { signIn } from "../lib/session.ts";
import { TextField } from "../components/forms.tsx";
import { homeFor } from "./routes.tsx";
import { ViewerQuery } from "./viewer.ts";

export function SignIn({ endedBecause }: { endedBecause: string | null }) {
  const [key, setKey] = useState("");
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    document.title = "Sign in · PARM console";
    performance.mark("parm:sign-in-interactive");
  }, []);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const trimmed = key.trim();
    if (!trimmed) return setError("enter an API key");
    setBusy(true);
    setError(undefined);
    try {
      const { viewer } = await execute(ViewerQuery, {}, { key: trimmed });
      signIn(trimmed);
      const path = window.location.pathname;
      if (path === "/sign-in" || (viewer.kind === "ADMIN" && path === "/")) navigate(homeFor(viewer.kind), { replace: true });
    } catch (err) {
      setError(err instanceof TopLevelError ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <main className="center" id="main">
      <form className="card sign-in" onSubmit={(e) => void submit(e)} aria-labelledby="sign-in-title">
        <h1 id="sign-in-title">PARM console</h1>
        <p className="lead">Sign in with an API key: the platform admin key printed at first start, or a tenant key.</p>
        {endedBecause ? (
          <p className="notice" role="status" data-testid="session-ended">
            Your session ended: {endedBecause}
          </p>
        ) : null}
        <TextField
          label="API key"
          type="password"
          value={key}
          onChange={setKey}
          error={error}
          placeholder="parm_…"
          autoComplete="current-password"
          hint="Kept in this tab only (sessionStorage) until you sign out."
        />
        <button type="submit" className="primary" disabled={busy}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
      </form>
    </main>
  );
}
