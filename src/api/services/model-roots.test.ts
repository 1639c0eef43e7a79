/** @module api/services/model-roots.test — containment of registration locations under the model roots. */
import assert from "node:assert/strict";
import { mkdir, mkdtemp, realpath, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { pathToFileURL } from "node:url";
import { ConfigError, loadModelRoots } from "../config.ts";
import { LOCATION_REFUSED_MESSAGE, ModelFileError } from "./model-inspect.ts";
import { isStrictlyInside, ModelRoots } from "./model-roots.ts";

let scratch: string;
let root: string;
let dataDir: string;
let outside: string;
let roots: ModelRoots;

before(async () => {
  scratch = await realpath(await mkdtemp(join(tmpdir(), "model-roots-")));
  root = join(scratch, "models");
  dataDir = join(root, ".parm");
  outside = join(scratch, "outside.gguf");
  await mkdir(join(root, "sub"), { recursive: true });
  await mkdir(join(dataDir, "runner-cache", "sha256"), { recursive: true });
  await mkdir(join(scratch, "models-evil"), { recursive: true });
  await writeFile(join(root, "sub", "ok.gguf"), "GGUF");
  await writeFile(join(dataDir, "runner-cache", "sha256", "abc"), "someone else's adapter");
  await writeFile(join(scratch, "models-evil", "x.gguf"), "GGUF");
  await writeFile(outside, "GGUF");
  await symlink(outside, join(root, "escape.gguf"));
  await symlink(join(root, "sub", "ok.gguf"), join(root, "alias.gguf"));
  await symlink(join(dataDir, "runner-cache"), join(root, "cache-link"));
  await symlink(scratch, join(root, "up"));
  roots = new ModelRoots({ roots: [root], excluded: [dataDir] });
});
after(async () => {
  await rm(scratch, { recursive: true, force: true });
});

async function refused(location: string): Promise<void> {
  await assert.rejects(roots.resolve(location), (e: unknown) => {
    assert.ok(e instanceof ModelFileError, String(e));
    assert.equal(e.problem, "LOCATION_REFUSED", location);
    assert.equal(e.message, `model file ${location}: ${LOCATION_REFUSED_MESSAGE}`);
    return true;
  });
}

describe("ModelRoots", () => {
  it("accepts a file under a root by path and by file:// URL, returning the canonical real location", async () => {
    const path = join(root, "sub", "ok.gguf");
    assert.deepEqual(await roots.resolve(path), { path, location: pathToFileURL(path).href });
    assert.deepEqual(await roots.resolve(pathToFileURL(path).href), { path, location: pathToFileURL(path).href });
    assert.equal((await roots.resolve(join(root, "sub", "..", "sub", "ok.gguf"))).path, path);
    assert.equal((await roots.resolve(join(root, "alias.gguf"))).path, path, "a symlink inside the roots resolves to its target");
  });

  it("refuses with one problem and one message whatever the reason", async () => {
    await refused("/etc/shadow");
    await refused("/etc/passwd");
    await refused("file:///etc/shadow");
    await refused("/does/not/exist.gguf");
    await refused(join(root, "missing.gguf"));
    await refused(root);
    await refused(join(root, "sub"));
    await refused(outside);
    await refused(join(root, "..", "outside.gguf"));
    await refused(join(scratch, "models-evil", "x.gguf"));
  });

  it("refuses symlinks that escape the roots and anything in an excluded folder", async () => {
    await refused(join(root, "escape.gguf"));
    await refused(join(root, "up", "outside.gguf"));
    await refused(join(dataDir, "runner-cache", "sha256", "abc"));
    await refused(join(root, "cache-link", "sha256", "abc"));
    await refused(pathToFileURL(join(dataDir, "runner-cache", "sha256", "abc")).href);
  });

  it("names a location that is not a file URL or absolute path as UNSUPPORTED_LOCATION", async () => {
    for (const location of ["models/x.gguf", "s3://bucket/x.gguf", "file://host/x.gguf"]) {
      await assert.rejects(roots.resolve(location), (e: unknown) => e instanceof ModelFileError && e.problem === "UNSUPPORTED_LOCATION");
    }
  });

  it("judges containment by path segments, not string prefixes", () => {
    assert.equal(isStrictlyInside("/a/models/x", "/a/models"), true);
    assert.equal(isStrictlyInside("/a/models-evil/x", "/a/models"), false);
    assert.equal(isStrictlyInside("/a/models", "/a/models"), false);
    assert.equal(isStrictlyInside("/a/..models/x", "/a"), true);
    assert.equal(isStrictlyInside("/b/x", "/a"), false);
  });
});

describe("loadModelRoots", () => {
  it("defaults to ./models, splits on ':' and resolves against the working folder", () => {
    assert.deepEqual(loadModelRoots({}, "/srv/parm"), { roots: ["/srv/parm/models"], excluded: ["/srv/parm/.parm"] });
    assert.deepEqual(
      loadModelRoots({ PARM_MODEL_ROOTS: "/m1:rel", PARM_DATA_DIR: "/data", PARM_RUNNER_CACHE_DIR: "/cache" }, "/srv"),
      { roots: ["/m1", "/srv/rel"], excluded: ["/data", "/cache"] },
    );
    assert.deepEqual(loadModelRoots({ PARM_MODEL_ROOTS: "" }, "/srv").roots, []);
  });

  it("refuses a root inside the data dir or the runner cache", () => {
    assert.throws(() => loadModelRoots({ PARM_MODEL_ROOTS: "/data/models", PARM_DATA_DIR: "/data" }, "/"), ConfigError);
    assert.throws(() => loadModelRoots({ PARM_MODEL_ROOTS: "/data", PARM_DATA_DIR: "/data" }, "/"), ConfigError);
    assert.throws(() => loadModelRoots({ PARM_MODEL_ROOTS: "/c/x", PARM_RUNNER_CACHE_DIR: "/c" }, "/"), ConfigError);
    assert.deepEqual(loadModelRoots({ PARM_MODEL_ROOTS: "/", PARM_DATA_DIR: "/data" }, "/").excluded, ["/data"]);
  });
});
