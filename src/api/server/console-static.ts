/** @module api/server/console-static
 *  Serves the built admin console (web/dist) on the api's origin:
 *  - `/assets/*` (Vite's content-hashed files): `cache-control: public, max-age=31536000, immutable`;
 *  - other files of the build (icons …): `max-age=3600`;
 *  - `index.html`, for `/` and as the SPA fallback of every other GET that accepts HTML (client routes such as
 *    `/jobs/:id`), never for `/v1/…`, `/graphql` or the probes: `cache-control: no-cache`, so a new build is
 *    picked up at once, with the console's Content-Security-Policy.
 *  The policy allows only the origin itself: scripts and styles from `'self'` (no inline script, no eval), images
 *  from `'self'`, `data:` and `blob:` (plot downloads), connections to the origin and to its own WebSocket
 *  (`ws://<host>` and `wss://<host>` of the request's Host, which CSP3 `'self'` covers in current browsers but older
 *  ones do not; wss for a TLS proxy in front), no frames, objects or foreign form targets. */
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import express, { type Express } from "express";

const HOST = /^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/;

/** The console's Content-Security-Policy for a request whose Host header is `host` (ignored unless well formed). */
export function consoleCsp(host: string | undefined): string {
  const sockets = host && HOST.test(host) ? `ws://${host} wss://${host}` : "";
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data: blob:",
    "font-src 'self'",
    `connect-src 'self'${sockets ? ` ${sockets}` : ""}`,
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
    "form-action 'self'",
  ].join("; ");
}

const NOT_CONSOLE = /^\/(v1|graphql|healthz|readyz|metrics)(\/|$)/;

/** Mounts the console when `staticDir/index.html` exists; returns whether it did. */
export function mountConsole(app: Express, staticDir: string | undefined): boolean {
  if (!staticDir) return false;
  const root = resolve(staticDir);
  const index = join(root, "index.html");
  if (!existsSync(index)) return false;
  app.use(
    express.static(root, {
      index: false,
      maxAge: "1h",
      setHeaders: (res, path) => {
        res.setHeader("x-content-type-options", "nosniff");
        if (path.startsWith(join(root, "assets") + "/")) res.setHeader("cache-control", "public, max-age=31536000, immutable");
        if (path === index) {
          res.setHeader("cache-control", "no-cache");
          res.setHeader("content-security-policy", consoleCsp(res.req.headers.host));
        }
      },
    }),
  );
  app.use((req, res, next) => {
    if ((req.method !== "GET" && req.method !== "HEAD") || NOT_CONSOLE.test(req.path) || req.path.startsWith("/assets/") || !req.accepts("html")) {
      return next();
    }
    res.setHeader("cache-control", "no-cache");
    res.setHeader("content-security-policy", consoleCsp(req.headers.host));
    res.setHeader("x-content-type-options", "nosniff");
    res.setHeader("referrer-policy", "no-referrer");
    res.sendFile(index);
  });
  return true;
}
