/** Vite build of the admin console into web/dist (served by the api at `/`). Pages are split into their own chunks
 *  (React.lazy in src/app/routes.tsx), so the first page loads only the shell; uPlot loads with the pages that chart. */
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

export default defineConfig({
  root: "web",
  base: "/",
  plugins: [react()],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    sourcemap: true,
    reportCompressedSize: true,
    chunkSizeWarningLimit: 300,
  },
  server: {
    proxy: {
      "/graphql": { target: "http://127.0.0.1:4000", ws: true },
      "/v1": "http://127.0.0.1:4000",
    },
  },
});
