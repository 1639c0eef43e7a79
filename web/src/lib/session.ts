/** @module web/lib/session
 *  The signed-in API key, kept in `sessionStorage` (gone when the tab closes; never in localStorage or a cookie).
 *  Signing out — by the user, or because the api refused the key (HTTP 401, WebSocket close 4401/4403) — clears
 *  it and records why, which the sign-in page shows. */
import { createStore } from "./store.ts";

const STORAGE_KEY = "parm.console.apiKey";

export interface SessionState {
  key: string | null;
  /** Why the last session ended when the console ended it (revoked key, suspended tenant …). */
  endedBecause: string | null;
}

function readKey(): string | null {
  try {
    return sessionStorage.getItem(STORAGE_KEY);
  } catch {
    return null;
  }
}

export const sessionStore = createStore<SessionState>({ key: readKey(), endedBecause: null });

export function signIn(key: string): void {
  sessionStorage.setItem(STORAGE_KEY, key);
  sessionStore.set({ key, endedBecause: null });
}

/** Clears the key; `reason` (when the console, not the user, ends the session) is shown on the sign-in page. */
export function signOut(reason: string | null = null): void {
  sessionStorage.removeItem(STORAGE_KEY);
  if (sessionStore.get().key === null && reason === null) return;
  sessionStore.set({ key: null, endedBecause: reason });
}

export function currentKey(): string | null {
  return sessionStore.get().key;
}
