/**
 * @module test/console/console — the admin console end to end in real Chromium (Debian's `chromium`, driven by
 * playwright-core), against the platform as `npm start` runs it: src/api/main.ts as a process on an embedded
 * PostgreSQL, a local nats-server and its embedded CPU runner, serving the built console (web/dist, built by
 * `npm test`'s pretest) on its own origin.
 *
 * One scripted flow: the admin signs in, creates a tenant and sees the runner fleet; the tenant admin signs in,
 * creates two dimensions, uploads the HH-RLHF files by drag and drop (streamed, with a progress bar), registers
 * stories260K by path and uploads a second copy, trains a small PARM and watches the loss curve grow (through a
 * dropped WebSocket: the stream resumes after the last seq, no event twice), trains two evaluators, runs the
 * playground with two α and then six (every column streams, no token dropped), runs an evaluation with grid step
 * 0.5 (three points and HV on the plot), cancels a job, and uploads a broken file (its line errors in the table).
 * Then: a MEMBER key sees no admin or key pages, and a revoked key is sent back to sign-in.
 *
 * Each page is saved as a screenshot under PARM_CONSOLE_SCREENSHOTS (default: a temporary folder, printed), and
 * the run prints its measurements: first-page JavaScript (gzip), time until sign-in and the dashboard are
 * interactive, and the six-column playground's token counts and lag. Skipped when Chromium is not installed
 * (`.ci/run` installs it: apt-get install chromium).
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import { chromium, type Browser, type BrowserContext, type Page, type WebSocketRoute } from "playwright-core";
import { REPO_ROOT, spawnApi, type ApiProcess } from "../helpers/api-process.ts";
import { postGraphQL } from "../helpers/graphql.ts";

const CHROMIUM = process.env.PARM_CHROMIUM ?? "/usr/bin/chromium";
const SHARED = join(REPO_ROOT, "..", "shared", "data");
const STORIES = join(SHARED, "tinyllamas-stories260k", "tinyllamas-stories-260k-f32.gguf");
const HH = { helpful: join(SHARED, "hh-rlhf", "helpful-base.test.jsonl.gz"), harmless: join(SHARED, "hh-rlhf", "harmless-base.test.jsonl.gz") };
const KEY_LINE = /^\s+(parm_admin_[A-Za-z0-9_-]{43})$/m;
const FIRST_PAGE_BUDGET_GZIP = 300 * 1024;

const skip = !existsSync(CHROMIUM) ? `Chromium not found at ${CHROMIUM} (apt-get install chromium)` : !existsSync(join(REPO_ROOT, "web", "dist", "index.html")) ? "web/dist is not built (npm run build:web)" : false;

const shotsDir = process.env.PARM_CONSOLE_SCREENSHOTS ?? mkdtempSync(join(tmpdir(), "parm-console-shots-"));
const measurements: Record<string, unknown> = {};

describe("admin console in Chromium", { skip }, () => {
  const dataDir = mkdtempSync(join(tmpdir(), "parm-console-"));
  let api: ApiProcess;
  let url = "";
  let graphqlUrl = "";
  let adminKey = "";
  let tenantKey = "";
  let memberKey = "";
  let browser: Browser;
  let admin: Page;
  let tenantContext: BrowserContext;
  let tenant: Page;
  const sockets: WebSocketRoute[] = [];
  const problems: string[] = [];
  const ids: { trainingJob?: string } = {};

  const gql = async <T>(query: string, variables: Record<string, unknown> = {}, key = tenantKey): Promise<T> => {
    const res = await postGraphQL<T>(graphqlUrl, query, variables, { key });
    assert.ok(res.data && !res.errors, JSON.stringify(res.errors ?? res.body));
    return res.data;
  };
  const shot = async (page: Page, name: string) => {
    await page.screenshot({ path: join(shotsDir, `${name}.png`), fullPage: true });
  };
  const watch = (page: Page, who: string) => {
    page.on("pageerror", (e) => problems.push(`${who}: page error ${e.message}`));
    page.on("console", (m) => {
      if (m.type() === "error" && /Content Security Policy|Refused to/i.test(m.text())) problems.push(`${who}: ${m.text()}`);
    });
  };
  const newContext = async (options: { colorScheme?: "light" | "dark"; routeSockets?: boolean } = {}) => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, colorScheme: options.colorScheme ?? "light" });
    if (options.routeSockets) {
      // Every console WebSocket goes through this route, so the test can drop one mid-stream.
      await context.routeWebSocket(/\/graphql$/, (ws) => {
        ws.connectToServer();
        sockets.push(ws);
      });
    }
    return context;
  };
  const signIn = async (page: Page, key: string) => {
    await page.getByLabel("API key").fill(key);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByTestId("viewer").waitFor();
  };
  const nav = async (page: Page, name: string, heading = name) => {
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name, exact: true }).click();
    await page.getByRole("heading", { level: 1, name: heading }).waitFor();
  };
  /** Drops `bytes` as a file on the page's drop zone, the way a file dragged from the desktop arrives. */
  const dropFile = async (page: Page, name: string, bytes: Buffer, type = "application/octet-stream") => {
    await page.getByTestId("dropzone").waitFor();
    await page.evaluate(
      ({ b64, name, type }) => {
        // Runs in the page (the test's tsconfig has no DOM types).
        const w = globalThis as any; // eslint-disable-line @typescript-eslint/no-explicit-any
        const binary = atob(b64);
        const data = new Uint8Array(binary.length);
        for (let i = 0; i < binary.length; i++) data[i] = binary.charCodeAt(i);
        const transfer = new w.DataTransfer();
        transfer.items.add(new w.File([data], name, { type }));
        const zone = w.document.querySelector('[data-testid="dropzone"]');
        for (const kind of ["dragenter", "dragover", "drop"]) zone.dispatchEvent(new w.DragEvent(kind, { dataTransfer: transfer, bubbles: true, cancelable: true }));
      },
      { b64: bytes.toString("base64"), name, type },
    );
  };
  const waitForJob = async (jobId: string, ms = 120_000) => {
    const deadline = Date.now() + ms;
    for (;;) {
      const { node } = await gql<{ node: { status: string; error: string | null } }>(`query($id: ID!) { node(id: $id) { ... on Job { status error } } }`, { id: jobId });
      if (["SUCCEEDED", "FAILED", "CANCELLED"].includes(node.status)) return node;
      if (Date.now() > deadline) throw new Error(`job ${jobId} still ${node.status}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  };
  const jobIdFromUrl = (page: Page) => decodeURIComponent(new URL(page.url()).pathname.split("/").pop()!);

  before(async () => {
    mkdirSync(shotsDir, { recursive: true });
    api = spawnApi({
      PARM_DATA_DIR: dataDir,
      PARM_EMBEDDED_RUNNER: "1",
      PARM_MODEL_ROOTS: join(SHARED, "tinyllamas-stories260k"),
      PARM_LOG_LEVEL: "info",
    });
    const ready = await api.waitForLog("parm api ready", 120_000);
    url = String(ready.url);
    graphqlUrl = String(ready.graphql);
    const deadline = Date.now() + 10_000;
    while (!KEY_LINE.test(api.stdout()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    adminKey = KEY_LINE.exec(api.stdout())![1]!;
    await api.waitForLog("serving the console", 1000).catch(() => assert.fail("the api does not serve web/dist"));
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"],
    });
    console.log(`[console e2e] screenshots in ${shotsDir}`);
  });

  after(async () => {
    console.log(`[console e2e] measurements ${JSON.stringify(measurements)}`);
    writeFileSync(join(shotsDir, "measurements.json"), JSON.stringify(measurements, null, 2) + "\n");
    await browser?.close().catch(() => undefined);
    if (api && api.child.exitCode === null) {
      api.child.kill("SIGTERM");
      const exited = await Promise.race([api.exited, new Promise((r) => setTimeout(() => r(null), 20_000))]);
      if (exited === null) api.child.kill("SIGKILL");
    }
    rmSync(dataDir, { recursive: true, force: true });
  });

  test("the admin signs in; first-page JS fits the budget; the console's headers are in place", async () => {
    const context = await newContext();
    admin = await context.newPage();
    watch(admin, "admin");
    const scripts: Promise<number>[] = [];
    admin.on("response", (r) => {
      if (r.request().resourceType() === "script") scripts.push(r.body().then((b) => gzipSync(b).length));
    });
    const response = await admin.goto(url, { waitUntil: "load" });
    assert.equal(response?.headers()["cache-control"], "no-cache");
    assert.match(response?.headers()["content-security-policy"] ?? "", /script-src 'self'/);
    await admin.getByRole("button", { name: "Sign in" }).waitFor();
    const interactive = await admin.evaluate(() => performance.getEntriesByName("parm:sign-in-interactive")[0]?.startTime ?? null);
    const gz = (await Promise.all(scripts)).reduce((a, b) => a + b, 0);
    measurements.firstPageJsFiles = scripts.length;
    measurements.firstPageJsGzipBytes = gz;
    measurements.signInInteractiveMs = interactive === null ? null : Math.round(interactive);
    assert.ok(gz > 0 && gz <= FIRST_PAGE_BUDGET_GZIP, `first page JS ${gz} B gzip`);
    const asset = await fetch(`${url}${new URL((await admin.locator("script[src]").first().getAttribute("src"))!, url).pathname}`);
    assert.equal(asset.headers.get("cache-control"), "public, max-age=31536000, immutable");
    await shot(admin, "01-sign-in");

    await admin.getByLabel("API key").fill("parm_0123456789_notarealkeynotarealkeynotarealkeynotarealke");
    await admin.getByRole("button", { name: "Sign in" }).click();
    await admin.getByText(/unknown API key|malformed API key/).waitFor();
    await signIn(admin, adminKey);
    await admin.getByRole("heading", { level: 1, name: "Tenants" }).waitFor();
    assert.equal(await admin.getByTestId("viewer").innerText(), "Platform admin");
  });

  test("the admin creates a tenant (its key shown once) and sees the runner fleet", async () => {
    const form = admin.getByRole("form", { name: "New tenant" });
    await form.getByLabel("Tenant name").fill("Bad Name");
    await form.getByRole("button", { name: "Create tenant" }).click();
    await form.getByRole("alert").filter({ hasText: /name/i }).first().waitFor();
    assert.equal(await form.getByLabel("Tenant name").getAttribute("aria-invalid"), "true", "the ValidationError sits on its field");
    await form.getByLabel("Tenant name").fill("acme");
    await form.getByLabel("Max concurrent jobs").fill("8");
    await form.getByRole("button", { name: "Create tenant" }).click();
    tenantKey = (await admin.getByTestId("secret-value").innerText()).trim();
    assert.match(tenantKey, /^parm_[0-9a-f]{10}_/);
    await admin.getByTestId("tenants-table").getByRole("link", { name: "acme" }).waitFor();
    await shot(admin, "02-admin-tenants");
    await admin.getByTestId("tenants-table").getByRole("link", { name: "acme" }).click();
    await admin.getByRole("heading", { level: 1, name: "Tenant acme" }).waitFor();
    assert.equal(await admin.getByLabel("Max concurrent jobs").inputValue(), "8");
    await admin.getByLabel("Mutations per minute").fill("600");
    await admin.getByRole("button", { name: "Save quotas" }).click();
    await admin.getByText(/Saved; applies/).waitFor();
    await admin.getByTestId("keys-table").getByText("TENANT_ADMIN").waitFor();
    await shot(admin, "02b-admin-tenant");
    await nav(admin, "Runner fleet");
    await admin.getByTestId("runners-table").locator("tbody tr").first().waitFor({ timeout: 30_000 });
    assert.match(await admin.getByTestId("runners-table").innerText(), /CPU[\s\S]*train, train-evaluator, generate, evaluate[\s\S]*live/);
    await shot(admin, "03-admin-runners");
  });

  test("the tenant admin signs in: the dashboard becomes interactive; two dimensions are created", async () => {
    tenantContext = await newContext({ routeSockets: true });
    tenant = await tenantContext.newPage();
    watch(tenant, "tenant");
    await tenant.goto(url);
    await signIn(tenant, tenantKey);
    await tenant.getByTestId("overview-stats").waitFor();
    // Time to interactive of the dashboard, from a fresh load with the key already in this tab's session.
    await tenant.reload({ waitUntil: "load" });
    await tenant.waitForFunction(() => performance.getEntriesByName("parm:dashboard-interactive").length > 0, null, { timeout: 30_000 });
    measurements.dashboardInteractiveMs = Math.round(await tenant.evaluate(() => performance.getEntriesByName("parm:dashboard-interactive")[0]!.startTime));
    assert.match(await tenant.getByTestId("viewer").innerText(), /acme · tenant admin/);
    const navText = await tenant.getByRole("navigation", { name: "Main" }).innerText();
    assert.match(navText, /API keys/);
    assert.doesNotMatch(navText, /Tenants|Runner fleet/);

    await nav(tenant, "Dimensions");
    for (const name of ["helpful", "harmless"]) {
      const form = tenant.getByRole("form", { name: "New dimension" });
      await form.getByLabel("Name").fill(name);
      await form.getByLabel("β_r").fill("0.1");
      await form.getByRole("button", { name: "Create dimension" }).click();
      await tenant.getByTestId("dimensions-table").getByRole("cell", { name, exact: true }).waitFor();
    }
    const rows = await tenant.getByTestId("dimensions-table").locator("tbody tr").allInnerTexts();
    assert.match(rows[0]!, /α\[0\][\s\S]*helpful/);
    assert.match(rows[1]!, /α\[1\][\s\S]*harmless/);
    await shot(tenant, "04-dimensions");
  });

  test("the HH-RLHF files are uploaded by drag and drop, with a progress bar and a validation report", async () => {
    for (const [dimension, file] of Object.entries(HH)) {
      await nav(tenant, "Datasets");
      const form = tenant.getByRole("form", { name: "New dataset" });
      await form.getByLabel("Dataset name").fill(`${dimension}-base`);
      await form.getByLabel("Format").selectOption("HH_RLHF");
      await form.getByLabel("Label “preferred” trains").selectOption({ label: `${dimension} (α[${dimension === "helpful" ? 0 : 1}])` });
      await form.getByLabel("Train share").fill("0.9");
      await form.getByLabel("Validation share").fill("0.03");
      await form.getByLabel("Test share").fill("0.07");
      await form.getByRole("button", { name: "Create dataset" }).click();
      await tenant.getByRole("heading", { level: 1, name: `Dataset ${dimension}-base` }).waitFor();
      await dropFile(tenant, file.split("/").pop()!, readFileSync(file), "application/gzip");
      await tenant.getByRole("progressbar", { name: "Upload progress" }).waitFor();
      await tenant.getByTestId("validation-report").waitFor({ timeout: 60_000 });
      await tenant.getByText("READY", { exact: true }).first().waitFor({ timeout: 60_000 });
      assert.equal(await tenant.getByRole("progressbar", { name: "Upload progress" }).getAttribute("aria-valuenow"), "100");
      const records = Number((await tenant.getByTestId("record-count").innerText()).split(" ")[0]);
      assert.ok(records > 2000, `${records} records`);
      if (dimension === "helpful") await shot(tenant, "05-dataset-upload");
    }
    await nav(tenant, "Datasets");
    await tenant.getByTestId("datasets-table").getByText("READY").nth(1).waitFor();
    await shot(tenant, "06-datasets");
  });

  test("stories260K is registered by path and a copy uploaded; the vocabulary badge says they match", async () => {
    await nav(tenant, "Models");
    const form = tenant.getByRole("form", { name: "Register a model" });
    await form.getByLabel("Model name").fill("stories260k");
    await form.getByLabel("Kind").selectOption("BASE");
    await form.getByLabel("Path or file:// URL").fill("/etc/passwd");
    await form.getByRole("button", { name: "Register" }).click();
    await form.getByText(/LOCATION_REFUSED/).waitFor();
    await form.getByLabel("Path or file:// URL").fill(STORIES);
    await form.getByRole("button", { name: "Register" }).click();
    await tenant.getByTestId("models-table").getByRole("cell", { name: "stories260k", exact: true }).waitFor();

    await form.getByLabel("Model name").fill("stories260k-upload");
    await form.getByLabel("Kind").selectOption("ARM_BASE");
    await form.getByLabel("Upload a file").check();
    await dropFile(tenant, "stories260k.gguf", readFileSync(STORIES));
    await form.getByRole("button", { name: "Upload and register" }).click();
    await tenant.getByTestId("models-table").getByRole("cell", { name: "stories260k-upload", exact: true }).waitFor({ timeout: 30_000 });
    const table = await tenant.getByTestId("models-table").innerText();
    assert.match(table, /stories260k\s+BASE\s+GGUF\s+llama\s+\d+\s+512/);
    assert.match(table, /shares vocabulary with stories260k-upload/);
    const uploaded = tenant.getByTestId("models-table").getByRole("row", { name: /stories260k-upload/ });
    const [copy] = await Promise.all([tenant.waitForEvent("download"), uploaded.getByRole("button", { name: "Download" }).click()]);
    assert.deepEqual(readFileSync((await copy.path())!), readFileSync(STORIES), "the uploaded copy downloads byte for byte");
    assert.match(await tenant.getByTestId("models-table").getByRole("row", { name: /^stories260k BASE/ }).innerText(), /on the model roots/);
    await shot(tenant, "07-models");
  });

  test("a small PARM trains; the loss curve grows live and survives a dropped WebSocket without duplicates", async () => {
    await nav(tenant, "Training");
    const form = tenant.getByRole("form", { name: "Train an ARM adapter" });
    // The API's defaults are prefilled.
    assert.equal(await form.getByLabel("Learning rate").inputValue(), "0.0005");
    assert.equal(await form.getByLabel("Dirichlet p (α sampling)").inputValue(), "0.5");
    await form.getByLabel("Adapter name").fill("parm-help-harm");
    await form.getByLabel("ARM backbone").selectOption({ label: "stories260k (BASE)" });
    await form.getByLabel("Train helpful (α[0])").check();
    await form.getByLabel("Train harmless (α[1])").check();
    await form.getByLabel("Dataset for helpful").selectOption({ label: "helpful-base" });
    await form.getByLabel("Dataset for harmless").selectOption({ label: "harmless-base" });
    await form.getByLabel("r1 (shared rank)").fill("2");
    await form.getByLabel("r2 (preference-aware rank)").fill("2");
    await form.getByLabel("LoRA alpha").fill("4");
    await form.getByLabel("Learning rate").fill("0.005");
    await form.getByLabel("Epochs").fill("1");
    await form.getByLabel("Batch size").fill("2");
    await form.getByLabel("Gradient accumulation").fill("1"); // one 2-pair micro-batch per step (the default is the reference's 4 × 8)
    await form.getByLabel("Warm-up steps").fill("0");
    await form.getByLabel("Checkpoint every N steps").fill("10");
    await form.getByLabel("Max length (tokens)").fill("4096");
    await form.getByLabel("Max prompt length").fill("24");
    await form.getByLabel("Max pairs per dataset").fill("60");
    await form.getByLabel("Max optimizer steps").fill("40");
    // An error returned as data lands next to its field: maxLength beyond the model's context.
    await form.getByRole("button", { name: "Start training" }).click();
    await form.getByRole("alert").filter({ hasText: /context/ }).waitFor();
    assert.equal(await form.getByLabel("Max length (tokens)").getAttribute("aria-invalid"), "true");
    await form.getByLabel("Max length (tokens)").fill("48");
    await form.getByRole("button", { name: "Start training" }).click();
    await tenant.getByRole("heading", { level: 1, name: "Job parm-help-harm" }).waitFor();
    ids.trainingJob = jobIdFromUrl(tenant);

    const chart = tenant.getByTestId("loss-chart");
    await tenant.waitForFunction(() => Number((globalThis as any).document.querySelector('[data-testid="loss-chart"]')?.getAttribute("data-points") ?? 0) >= 2, null, { timeout: 90_000 });
    const early = Number(await chart.getAttribute("data-points"));
    // Drop the socket mid-stream: the page reconnects with backoff and resumes after the last seq it saw.
    const reconnectsBefore = sockets.length;
    for (const ws of sockets.slice(-1)) await ws.close({ code: 4000, reason: "test: dropped" });
    await tenant.waitForFunction((n) => Number((globalThis as any).document.querySelector('[data-testid="loss-chart"]')?.getAttribute("data-points") ?? 0) > n, early, { timeout: 90_000 });
    await tenant.getByTestId("job-status").getByText("SUCCEEDED").waitFor({ timeout: 120_000 });
    assert.ok(sockets.length > reconnectsBefore, "a new socket was opened after the drop");
    const points = Number(await chart.getAttribute("data-points"));
    assert.ok(points > early, `the curve grew from ${early} to ${points} points`);
    const { node } = await gql<{ node: { events: { seq: number; type: string }[] } }>(`query($id: ID!, $first: Int) { node(id: $id) { ... on Job { events(first: $first) { seq type } } } }`, { id: ids.trainingJob, first: 1000 });
    await tenant.waitForFunction((n) => (globalThis as any).document.querySelector('[data-testid="event-count"]')?.textContent === String(n), node.events.length, { timeout: 10_000 });
    assert.equal(points, node.events.filter((e) => e.type === "progress").length, "one curve point per progress event: none lost, none twice");
    measurements.trainingProgressEvents = points;
    await tenant.getByText(/Adapter parm-help-harm/).waitFor({ timeout: 30_000 });
    // The trained adapter downloads with the session's key: the bytes are the ones the runner stored.
    const [file] = await Promise.all([tenant.waitForEvent("download"), tenant.getByRole("button", { name: "Download adapter" }).click()]);
    assert.equal(file.suggestedFilename(), "parm-help-harm.safetensors");
    const bytes = readFileSync((await file.path())!);
    const { adapters } = await gql<{ adapters: { edges: { node: { name: string; artifactDigest: string } }[] } }>(`{ adapters(first: 5) { edges { node { name artifactDigest } } } }`);
    assert.equal(createHash("sha256").update(bytes).digest("hex"), adapters.edges.find((e) => e.node.name === "parm-help-harm")!.node.artifactDigest);
    const [checkpoint] = await Promise.all([tenant.waitForEvent("download"), tenant.getByRole("button", { name: "Download last checkpoint" }).click()]);
    assert.ok(readFileSync((await checkpoint.path())!).length > 0);
    await shot(tenant, "08-training-job");
    await nav(tenant, "Training");
    await tenant.getByTestId("jobs-table").getByText("parm-help-harm").waitFor();
    await shot(tenant, "09-training");
  });

  test("one evaluator per dimension is trained from the Training page", async () => {
    for (const [name, dimension] of [
      ["help-rm", "helpful"],
      ["harm-rm", "harmless"],
    ] as const) {
      await nav(tenant, "Training");
      await tenant.getByRole("tab", { name: "Evaluator" }).click();
      const form = tenant.getByRole("form", { name: "Train an evaluator" });
      await form.getByLabel("Evaluator name").fill(name);
      await form.getByLabel("Dimension it scores").selectOption({ label: dimension });
      await form.getByLabel("Backbone").selectOption({ label: "stories260k" });
      await form.getByLabel("Dataset").selectOption({ label: `${dimension}-base` });
      await form.getByLabel("Learning rate").fill("0.001");
      await form.getByLabel("Batch size").fill("2");
      await form.getByLabel("Max length (tokens)").fill("48");
      await form.getByLabel("Pooling").selectOption("MEAN");
      await form.getByRole("button", { name: "Start evaluator training" }).click();
      await tenant.getByRole("heading", { level: 1, name: `Job ${name}` }).waitFor();
      const job = await waitForJob(jobIdFromUrl(tenant));
      assert.equal(job.status, "SUCCEEDED", job.error ?? "");
    }
  });

  test("the playground streams two α columns from one generate, then six without dropping a token", async () => {
    await nav(tenant, "Playground");
    const form = tenant.getByRole("form", { name: "Generation request" });
    await form.getByLabel("Adapter").selectOption({ label: "parm-help-harm (PARM: helpful, harmless)" });
    await form.getByLabel("Base model").selectOption({ label: "stories260k (BASE, vocab 512)" });
    await form.getByLabel("Max tokens").fill("24");
    await form.getByLabel("Prompt").fill("Once upon a time");
    await form.getByRole("slider", { name: /α of column 1/ }).fill("1");
    await form.getByRole("slider", { name: /α of column 2/ }).fill("0");
    await form.getByRole("button", { name: "Generate" }).click();
    await tenant.getByTestId("generation-status").getByText("done").waitFor({ timeout: 60_000 });
    for (const i of [0, 1]) {
      const column = tenant.getByTestId(`output-${i}`);
      assert.ok(Number(await column.getAttribute("data-tokens")) > 0, `column ${i} streamed`);
    }
    assert.match(await tenant.getByTestId("output-0").innerText(), /α \(1, 0\)/);
    assert.match(await tenant.getByTestId("output-1").innerText(), /α \(0, 1\)/);
    await tenant.getByTestId("output-0").getByText(/length|stop/).waitFor();
    await shot(tenant, "10-playground");

    // Six columns at the runner's full speed: every column gets every token the runner stored.
    for (let i = 0; i < 4; i++) await form.getByRole("button", { name: "Add column" }).click();
    for (let i = 0; i < 6; i++) await form.getByRole("slider", { name: new RegExp(`α of column ${i + 1}`) }).fill(String(i / 5));
    await form.getByLabel("Max tokens").fill("64");
    const started = Date.now();
    await form.getByRole("button", { name: "Generate" }).click();
    await tenant.getByTestId("output-5").waitFor();
    await tenant.getByTestId("generation-status").getByText("done").waitFor({ timeout: 120_000 });
    const seen = Date.now() - started;
    const { generations } = await gql<{ generations: { edges: { node: { outputs: { tokenCount: number }[]; job: { startedAt: string; finishedAt: string } } }[] } }>(
      `{ generations(first: 1) { edges { node { outputs { tokenCount } job { startedAt finishedAt } } } } }`,
    );
    const stored = generations.edges[0]!.node;
    const counts: number[] = [];
    for (let i = 0; i < 6; i++) counts.push(Number(await tenant.getByTestId(`output-${i}`).getAttribute("data-tokens")));
    assert.deepEqual(counts, stored.outputs.map((o) => o.tokenCount), "each column holds exactly the tokens the runner stored");
    const runnerSeconds = (new Date(stored.job.finishedAt).getTime() - new Date(stored.job.startedAt).getTime()) / 1000;
    // How far the columns trail the runner: the last token shown in any column against the job's finish (same host clock).
    const lastShown = Math.max(...(await Promise.all([0, 1, 2, 3, 4, 5].map(async (i) => Number(await tenant.getByTestId(`output-${i}`).getAttribute("data-last-at"))))));
    const firstShown = Math.min(...(await Promise.all([0, 1, 2, 3, 4, 5].map(async (i) => Number(await tenant.getByTestId(`output-${i}`).getAttribute("data-first-at"))))));
    measurements.playground6 = {
      tokensPerColumn: counts,
      totalTokens: counts.reduce((a, b) => a + b, 0),
      runnerSeconds,
      runnerTokensPerSecond: Math.round(counts.reduce((a, b) => a + b, 0) / Math.max(runnerSeconds, 1e-3)),
      submitToDoneSeconds: seen / 1000,
      firstTokenAfterSubmitSeconds: (firstShown - started) / 1000,
      lastTokenShownVsJobFinishedMs: lastShown - new Date(stored.job.finishedAt).getTime(),
      uiTokensPerSecond: Math.round(counts.reduce((a, b) => a + b, 0) / Math.max((lastShown - firstShown) / 1000, 1e-3)),
    };
    await shot(tenant, "11-playground-6");

    // Cancel: a long generation stops; its columns keep what streamed and the stream ends with JOB_CANCELLED. All six
    // columns decode (the job lasts until its longest row ends), so it is still running when the cancel arrives even
    // where a row reaches EOS early and the decoder is fast.
    // The cancel is sent as soon as the stream is live. Under load the whole 500-token generation can still finish
    // before the cancel reaches the runner; such a run ends "done" and is tried again (at most three runs, one of which
    // must end cancelled).
    await form.getByLabel("Max tokens").fill("500");
    const status = tenant.getByTestId("generation-status");
    let cancelled = false;
    for (let attempt = 1; attempt <= 3 && !cancelled; attempt++) {
      await form.getByRole("button", { name: "Generate" }).click();
      await status.getByText("streaming…").waitFor();
      // The button goes away when the generation ends first.
      await tenant.getByRole("button", { name: "Cancel" }).click({ timeout: 5_000 }).catch(() => undefined);
      await status.getByText(/JOB_CANCELLED|^done$/).waitFor({ timeout: 30_000 });
      cancelled = /JOB_CANCELLED/.test(await status.innerText());
    }
    assert.ok(cancelled, "a cancelled generation's stream ends with JOB_CANCELLED");
    assert.ok(Number(await tenant.getByTestId("output-0").getAttribute("data-tokens")) < 500);
  });

  test("an evaluation with grid step 0.5 fills the Pareto plot with three points and a hypervolume", async () => {
    await nav(tenant, "Evaluations");
    const form = tenant.getByRole("form", { name: "New evaluation" });
    await form.getByLabel("Adapter").selectOption({ label: "parm-help-harm (PARM)" });
    await form.getByLabel("Base model").selectOption({ label: "stories260k" });
    await form.getByLabel("Prompt dataset").selectOption({ label: "helpful-base" });
    await form.getByLabel("Prompt count").fill("2");
    await form.getByLabel("Grid step").fill("0.3");
    await form.getByLabel("Max tokens per answer").fill("24");
    assert.equal(await form.getByLabel("Evaluator for helpful").inputValue() !== "", true, "evaluators preselected in α order");
    await form.getByRole("button", { name: "Start evaluation" }).click();
    await form.getByRole("alert").filter({ hasText: /gridStep|integer/ }).waitFor();
    await form.getByLabel("Grid step").fill("0.5");
    await form.getByRole("button", { name: "Start evaluation" }).click();
    await tenant.getByRole("heading", { level: 1, name: /^Evaluation / }).waitFor();
    await tenant.waitForFunction(() => (globalThis as any).document.querySelector('[data-testid="pareto-plot"]')?.getAttribute("data-points") === "3", null, { timeout: 120_000 });
    await tenant.getByText("hypervolume (final)").waitFor({ timeout: 60_000 });
    const hv = Number(await tenant.getByTestId("hypervolume").innerText());
    assert.ok(Number.isFinite(hv), `HV ${hv}`);
    assert.equal(await tenant.getByTestId("point-count").innerText(), "3 / 3");
    assert.equal((await tenant.getByTestId("points-table").locator("tbody tr").all()).length, 3);
    const [report] = await Promise.all([tenant.waitForEvent("download"), tenant.getByRole("button", { name: "Download report JSON" }).click()]);
    const parsed = JSON.parse(readFileSync((await report.path())!, "utf8")) as Record<string, unknown>;
    assert.ok(JSON.stringify(parsed).includes("hypervolume"), "the stored report names its hypervolume");
    await shot(tenant, "12-evaluation");
    await nav(tenant, "Evaluations");
    await tenant.getByTestId("evaluations-table").getByText("SUCCEEDED").waitFor();
    await shot(tenant, "12b-evaluations");
  });

  test("a GenARM adapter is trained and evaluated; its Pareto plot overlays the PARM evaluation", async () => {
    await nav(tenant, "Training");
    const form = tenant.getByRole("form", { name: "Train an ARM adapter" });
    await form.getByLabel("Adapter name").fill("genarm-help-harm");
    await form.getByLabel("Method").selectOption("GENARM");
    await form.getByLabel("ARM backbone").selectOption({ label: "stories260k (BASE)" });
    await form.getByLabel("Train helpful (α[0])").check();
    await form.getByLabel("Train harmless (α[1])").check();
    await form.getByLabel("Dataset for helpful").selectOption({ label: "helpful-base" });
    await form.getByLabel("Dataset for harmless").selectOption({ label: "harmless-base" });
    await form.getByLabel("r1 (shared rank)").fill("2");
    await form.getByLabel("Learning rate").fill("0.005");
    await form.getByLabel("Batch size").fill("2");
    await form.getByLabel("Gradient accumulation").fill("1"); // one 2-pair micro-batch per step (the default is the reference's 4 × 8)
    await form.getByLabel("Warm-up steps").fill("0");
    await form.getByLabel("Max length (tokens)").fill("48");
    await form.getByLabel("Max prompt length").fill("24");
    await form.getByLabel("Max pairs per dataset").fill("60");
    await form.getByLabel("Max optimizer steps").fill("20");
    await form.getByRole("button", { name: "Start training" }).click();
    await tenant.getByRole("heading", { level: 1, name: "Job genarm-help-harm" }).waitFor();
    assert.equal((await waitForJob(jobIdFromUrl(tenant))).status, "SUCCEEDED");
    // GenARM: one ARM file per dimension, in α order.
    await tenant.getByRole("button", { name: "Download ARM for harmless" }).waitFor({ timeout: 30_000 });
    assert.equal(await tenant.getByRole("button", { name: "Download adapter" }).count(), 0);
    const [arm] = await Promise.all([tenant.waitForEvent("download"), tenant.getByRole("button", { name: "Download ARM for helpful" }).click()]);
    assert.match(arm.suggestedFilename(), /^genarm-help-harm-helpful\.safetensors$/);

    await nav(tenant, "Evaluations");
    const ev = tenant.getByRole("form", { name: "New evaluation" });
    await ev.getByLabel("Adapter").selectOption({ label: "genarm-help-harm (GENARM)" });
    await ev.getByLabel("Base model").selectOption({ label: "stories260k" });
    await ev.getByLabel("Prompt dataset").selectOption({ label: "helpful-base" });
    await ev.getByLabel("Prompt count").fill("2");
    await ev.getByLabel("Grid step").fill("0.5");
    await ev.getByLabel("Max tokens per answer").fill("24");
    await ev.getByRole("button", { name: "Start evaluation" }).click();
    await tenant.getByRole("heading", { level: 1, name: /^Evaluation / }).waitFor();
    await tenant.getByText("hypervolume (final)").waitFor({ timeout: 120_000 });
    await tenant.getByRole("checkbox", { name: /^parm-help-harm/ }).check();
    await tenant.waitForFunction(() => (globalThis as any).document.querySelector('[data-testid="pareto-plot"]')?.getAttribute("data-points") === "6", null, { timeout: 10_000 });
    await shot(tenant, "12c-evaluation-overlay");
  });

  test("a running job is cancelled from its page", async () => {
    await nav(tenant, "Training");
    const form = tenant.getByRole("form", { name: "Train an ARM adapter" });
    await form.getByLabel("Adapter name").fill("to-cancel");
    await form.getByLabel("ARM backbone").selectOption({ label: "stories260k (BASE)" });
    await form.getByLabel("Train helpful (α[0])").check();
    await form.getByLabel("Dataset for helpful").selectOption({ label: "helpful-base" });
    await form.getByLabel("Batch size").fill("2");
    await form.getByLabel("Gradient accumulation").fill("1"); // one 2-pair micro-batch per step (the default is the reference's 4 × 8)
    await form.getByLabel("Max length (tokens)").fill("48");
    await form.getByLabel("Max prompt length").fill("24");
    await form.getByLabel("Max optimizer steps").fill("5000");
    await form.getByRole("button", { name: "Start training" }).click();
    await tenant.getByRole("heading", { level: 1, name: "Job to-cancel" }).waitFor();
    await tenant.getByTestId("job-status").getByText("RUNNING", { exact: true }).waitFor({ timeout: 60_000 });
    await tenant.getByRole("button", { name: "Cancel job" }).click();
    await tenant.getByTestId("job-status").getByText("CANCELLED", { exact: true }).waitFor({ timeout: 60_000 });
    assert.match(await tenant.getByTestId("job-status").innerText(), /cancelled while running/);
    await shot(tenant, "13-cancelled-job");
  });

  test("a dimension in use cannot be deleted: the refusal says what uses it", async () => {
    await nav(tenant, "Dimensions");
    tenant.once("dialog", (d) => void d.accept());
    await tenant.getByRole("button", { name: "Delete helpful" }).click();
    await tenant.getByTestId("dimensions-table").getByRole("alert").filter({ hasText: /used by \d+ object/ }).waitFor();
    assert.equal(await tenant.getByTestId("dimensions-table").getByRole("cell", { name: "helpful", exact: true }).count(), 1);
  });

  test("a broken file is rejected and its line errors are listed", async () => {
    await nav(tenant, "Datasets");
    const form = tenant.getByRole("form", { name: "New dataset" });
    await form.getByLabel("Dataset name").fill("broken");
    await form.getByLabel("Label “preferred” trains").selectOption({ label: "helpful (α[0])" });
    await form.getByRole("button", { name: "Create dataset" }).click();
    await tenant.getByRole("heading", { level: 1, name: "Dataset broken" }).waitFor();
    const good = gunzipSync(readFileSync(HH.helpful)).toString("utf8").split("\n").slice(0, 3);
    const lines = [good[0], "{not json", good[1], JSON.stringify({ chosen: "\n\nHuman: hi\n\nAssistant: hello" }), good[2]];
    await dropFile(tenant, "broken.jsonl", Buffer.from(lines.join("\n") + "\n"), "application/jsonl");
    await tenant.getByTestId("issues-table").waitFor({ timeout: 30_000 });
    await tenant.getByTestId("rejected-because").waitFor();
    const issues = await tenant.getByTestId("issues-table").innerText();
    assert.match(issues, /2\s+MALFORMED_JSON/);
    assert.match(issues, /4\s+MISSING_FIELD/);
    await tenant.getByText("REJECTED", { exact: true }).first().waitFor();
    await shot(tenant, "14-rejected-upload");
    await nav(tenant, "Overview");
    await tenant.getByTestId("overview-stats").getByText("2", { exact: true }).first().waitFor();
    await shot(tenant, "14b-overview");
  });

  test("a MEMBER key sees no admin or key pages; revoking it sends it back to sign-in", async () => {
    await nav(tenant, "API keys");
    const form = tenant.getByRole("form", { name: "New API key" });
    await form.getByLabel("Key name").fill("viewer");
    await form.getByLabel("Role").selectOption("MEMBER");
    await form.getByRole("button", { name: "Create key" }).click();
    memberKey = (await tenant.getByTestId("secret-value").innerText()).trim();
    await shot(tenant, "15-api-keys");

    const memberContext = await newContext({ colorScheme: "dark" });
    const member = await memberContext.newPage();
    watch(member, "member");
    await member.goto(`${url}/admin`);
    await signIn(member, memberKey);
    await member.getByTestId("forbidden").waitFor();
    const navText = await member.getByRole("navigation", { name: "Main" }).innerText();
    assert.doesNotMatch(navText, /Tenants|Runner fleet|API keys/);
    assert.match(navText, /Datasets/);
    await member.goto(`${url}/keys`);
    await member.getByTestId("forbidden").waitFor();
    await member.goto(`${url}/admin/runners`);
    await member.getByTestId("forbidden").waitFor();
    await shot(member, "16-member-forbidden");
    // Members read dimensions but get no edit controls.
    await nav(member, "Dimensions");
    assert.equal(await member.getByRole("form", { name: "New dimension" }).count(), 0);
    await member.getByTestId("socket-status").getByText("live").waitFor({ timeout: 10_000 });
    await shot(member, "17-member-dimensions-dark");

    await tenant.reload();
    await tenant.getByTestId("keys-table").waitFor();
    await tenant.getByRole("checkbox", { name: "Show revoked" }).check();
    tenant.once("dialog", (d) => void d.accept());
    await tenant.getByRole("button", { name: "Revoke viewer" }).click();
    await tenant.getByTestId("keys-table").getByText(/^revoked /).waitFor();
    // The member's open subscription is closed with 4403 within a second: the console returns to sign-in.
    await member.getByTestId("session-ended").waitFor({ timeout: 10_000 });
    assert.match(await member.getByTestId("session-ended").innerText(), /revoked/i);
    assert.equal(await member.evaluate(() => (globalThis as any).sessionStorage.length), 0, "the key is gone from sessionStorage");
    await shot(member, "18-revoked-sign-in");
    await memberContext.close();
  });

  test("a top-level error is a banner: RATE_LIMITED with its retry-after; keyboard-only sign-in", async () => {
    // A tenant allowed one mutation a minute: its second mutation is refused before it runs.
    await admin.goto(`${url}/admin`);
    const form = admin.getByRole("form", { name: "New tenant" });
    await form.getByLabel("Tenant name").fill("slow");
    await form.getByLabel("Mutations per minute").fill("1");
    await form.getByRole("button", { name: "Create tenant" }).click();
    const slowKey = (await admin.getByTestId("secret-value").innerText()).trim();
    const context = await newContext();
    const page = await context.newPage();
    watch(page, "slow");
    await page.goto(`${url}/dimensions`);
    // Keyboard only: the key field is the first control; Enter submits.
    await page.getByLabel("API key").waitFor();
    await page.keyboard.press("Tab");
    assert.equal(await page.evaluate(() => (globalThis as any).document.activeElement?.getAttribute("type")), "password", "Tab reaches the key field first");
    await page.keyboard.type(slowKey);
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { level: 1, name: "Dimensions" }).waitFor();
    const create = page.getByRole("form", { name: "New dimension" });
    for (const name of ["first", "second"]) {
      await create.getByLabel("Name").fill(name);
      await create.getByRole("button", { name: "Create dimension" }).click();
      if (name === "first") await page.getByTestId("dimensions-table").getByRole("cell", { name: "first", exact: true }).waitFor();
    }
    const banner = page.locator(".banner-item[data-code='RATE_LIMITED']");
    await banner.waitFor();
    assert.match(await banner.innerText(), /Rate limited: .*Retry in \d+ s\./);
    await shot(page, "19-rate-limited-banner");
    await page.getByRole("button", { name: "Dismiss RATE_LIMITED message" }).click();
    assert.equal(await banner.count(), 0);
    await context.close();
  });

  test("the job list filters by kind and status", async () => {
    await tenant.goto(`${url}/training`);
    const jobs = tenant.getByTestId("jobs-table");
    await jobs.waitFor();
    const section = tenant.getByRole("region", { name: "Jobs" });
    await section.getByLabel("Kind").selectOption("TRAIN_EVALUATOR");
    await tenant.waitForFunction(() => {
      const rows = [...(globalThis as any).document.querySelectorAll('[data-testid="jobs-table"] tbody tr')] as { innerText: string }[];
      return rows.length === 2 && rows.every((r) => r.innerText.includes("TRAIN_EVALUATOR"));
    });
    await section.getByLabel("Kind").selectOption("TRAIN");
    await section.getByLabel("Status").selectOption("CANCELLED");
    await tenant.waitForFunction(() => {
      const rows = [...(globalThis as any).document.querySelectorAll('[data-testid="jobs-table"] tbody tr')] as { innerText: string }[];
      return rows.length === 1 && rows[0]!.innerText.includes("to-cancel");
    });
  });

  test("three objectives: the playground's α is a point dragged on a triangle (mouse or arrow keys)", async () => {
    await nav(tenant, "Dimensions");
    const dims = tenant.getByRole("form", { name: "New dimension" });
    await dims.getByLabel("Name").fill("safe");
    await dims.getByRole("button", { name: "Create dimension" }).click();
    await tenant.getByTestId("dimensions-table").getByRole("cell", { name: "safe", exact: true }).waitFor();
    await nav(tenant, "Datasets");
    const ds = tenant.getByRole("form", { name: "New dataset" });
    await ds.getByLabel("Dataset name").fill("pku-16");
    await ds.getByLabel("Format").selectOption("PKU_SAFERLHF");
    await ds.getByLabel("Label “better” trains").selectOption({ label: "helpful (α[0])" });
    await ds.getByLabel("Label “safer” trains").selectOption({ label: "safe (α[2])" });
    await ds.getByRole("button", { name: "Create dataset" }).click();
    await tenant.getByRole("heading", { level: 1, name: "Dataset pku-16" }).waitFor();
    await dropFile(tenant, "alpaca-7b.test.head16.jsonl", readFileSync(join(SHARED, "pku-saferlhf", "alpaca-7b.test.head16.jsonl")), "application/jsonl");
    await tenant.getByText("READY", { exact: true }).first().waitFor({ timeout: 30_000 });

    await nav(tenant, "Training");
    const form = tenant.getByRole("form", { name: "Train an ARM adapter" });
    await form.getByLabel("Adapter name").fill("parm-three");
    await form.getByLabel("ARM backbone").selectOption({ label: "stories260k (BASE)" });
    for (const [dim, dataset] of [["helpful (α[0])", "helpful-base"], ["harmless (α[1])", "harmless-base"], ["safe (α[2])", "pku-16"]] as const) {
      await form.getByLabel(`Train ${dim}`).check();
      await form.getByLabel(`Dataset for ${dim.split(" ")[0]}`).selectOption({ label: dataset });
    }
    await form.getByLabel("Batch size").fill("2");
    await form.getByLabel("Gradient accumulation").fill("1"); // one 2-pair micro-batch per step (the default is the reference's 4 × 8)
    await form.getByLabel("Warm-up steps").fill("0");
    await form.getByLabel("Max length (tokens)").fill("48");
    await form.getByLabel("Max prompt length").fill("24");
    await form.getByLabel("Max pairs per dataset").fill("12");
    await form.getByLabel("Max optimizer steps").fill("6");
    await form.getByRole("button", { name: "Start training" }).click();
    await tenant.getByRole("heading", { level: 1, name: "Job parm-three" }).waitFor();
    assert.equal((await waitForJob(jobIdFromUrl(tenant))).status, "SUCCEEDED");

    await nav(tenant, "Playground");
    const play = tenant.getByRole("form", { name: "Generation request" });
    await play.getByLabel("Adapter").selectOption({ label: "parm-three (PARM: helpful, harmless, safe)" });
    assert.match(await play.getByLabel("Base model").locator("option:checked").innerText(), /^stories260k \(BASE/, "the base defaults to the adapter's backbone");
    const first = play.getByRole("slider", { name: /α of column 1/ });
    const second = play.getByRole("slider", { name: /α of column 2/ });
    // Column 1: drag the point onto the "safe" corner (bottom right). Column 2: arrow keys from where it starts.
    const box = (await first.boundingBox())!;
    await tenant.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await tenant.mouse.down();
    await tenant.mouse.move(box.x + box.width - 2, box.y + box.height - 2, { steps: 5 });
    await tenant.mouse.up();
    assert.equal(await first.getAttribute("aria-valuetext"), "helpful 0.00, harmless 0.00, safe 1.00");
    await second.focus();
    const before = await second.getAttribute("aria-valuetext");
    for (let i = 0; i < 4; i++) await tenant.keyboard.press("ArrowUp");
    const after = await second.getAttribute("aria-valuetext");
    assert.notEqual(after, before, "arrow keys move the point");
    assert.ok(Number(/helpful ([\d.]+)/.exec(after!)![1]) > Number(/helpful ([\d.]+)/.exec(before!)![1]), `up moves toward helpful: ${before} → ${after}`);
    await play.getByLabel("Max tokens").fill("12");
    await play.getByRole("button", { name: "Generate" }).click();
    await tenant.getByTestId("generation-status").getByText("done").waitFor({ timeout: 60_000 });
    assert.match(await tenant.getByTestId("output-0").innerText(), /α \(0, 0, 1\)/);
    assert.ok(Number(await tenant.getByTestId("output-1").getAttribute("data-tokens")) > 0);
    await shot(tenant, "20-playground-triangle");
  });

  test("no page error and no Content-Security-Policy violation in any tab", () => {
    assert.deepEqual(problems, []);
  });
});
