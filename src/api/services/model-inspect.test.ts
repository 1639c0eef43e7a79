/** @module api/services/model-inspect.test */
import assert from "node:assert/strict";
import { copyFile, mkdtemp, open, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { CHATML_TEMPLATE, LLAMA2_CHAT_TEMPLATE, writeGgufWithStrings } from "../../../test/fixtures/chat-templates.ts";
import { tokensFromTokenizerJson, vocabularyDigest } from "../../formats/index.ts";
import { chatTemplateOfTokenizerConfig, inspectModelFile, LOCATION_REFUSED_MESSAGE, ModelFileError } from "./model-inspect.ts";

const dataDir = new URL("../../../../shared/data/tinyllamas-stories260k/", import.meta.url);
const ggufUrl = new URL("tinyllamas-stories-260k-f32.gguf", dataDir);
const tokenizerUrl = new URL("tok512.tokenizer.json", dataDir);

let scratch: string;
before(async () => {
  scratch = await mkdtemp(join(tmpdir(), "model-inspect-"));
});
after(async () => {
  await rm(scratch, { recursive: true, force: true });
});

function safetensorsBytes(header: object, dataBytes: number): Buffer {
  const json = Buffer.from(JSON.stringify(header), "utf8");
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([length, json, Buffer.alloc(dataBytes)]);
}

describe("inspectModelFile", () => {
  it("reads the real GGUF v1 model: format, size, sha256, vocabulary and architecture", async () => {
    const inspection = await inspectModelFile(fileURLToPath(ggufUrl));
    assert.equal(inspection.format, "GGUF");
    assert.equal(inspection.sizeBytes, 1182656n);
    assert.equal(inspection.sha256, "c14806920629b6c217445c69d7ac61bd0e4047289f8ab824c3f0b4f827a5d1cb");
    assert.equal(inspection.vocabSize, 512);
    assert.equal(inspection.config["general.architecture"], "llama");
    assert.equal(inspection.config["llama.embedding_length"], 64);
    assert.equal(inspection.config["llama.block_count"], 5);
    assert.equal(inspection.config.ggufVersion, 1);
    assert.equal(inspection.config.tensorCount, 48);
  });

  it("gives the GGUF vocabulary the same digest as its tokenizer.json copy", async () => {
    const inspection = await inspectModelFile(fileURLToPath(ggufUrl));
    const tokens = tokensFromTokenizerJson(JSON.parse(await readFile(tokenizerUrl, "utf8")));
    assert.ok(tokens);
    assert.equal(tokens.length, 512);
    assert.equal(inspection.tokenizerHash, vocabularyDigest(tokens));
    assert.notEqual(inspection.tokenizerHash, vocabularyDigest(tokens.slice(0, 511)));
  });

  it("reads a safetensors header and a sibling Hugging Face tokenizer.json", async () => {
    const dir = await mkdtemp(join(scratch, "st-"));
    const bytes = safetensorsBytes(
      { "model.embed_tokens.weight": { dtype: "F32", shape: [5, 2], data_offsets: [0, 40] }, __metadata__: { format: "pt" } },
      40,
    );
    await writeFile(join(dir, "model.safetensors"), bytes);
    await writeFile(
      join(dir, "tokenizer.json"),
      JSON.stringify({ model: { vocab: { a: 0, b: 1, c: 2, d: 3 } }, added_tokens: [{ id: 4, content: "<eos>" }] }),
    );
    const inspection = await inspectModelFile(join(dir, "model.safetensors"));
    assert.equal(inspection.format, "SAFETENSORS");
    assert.equal(inspection.vocabSize, 5);
    assert.equal(inspection.sizeBytes, BigInt(bytes.length));
    assert.equal(inspection.tokenizerHash, vocabularyDigest(["a", "b", "c", "d", "<eos>"]));
    assert.equal(inspection.config.dtype, "F32");
  });

  it("refuses a vanished file and a folder with one problem, and names an unknown format and a truncated GGUF header", async () => {
    const missing = join(scratch, "nope.gguf");
    for (const path of [missing, scratch]) {
      await assert.rejects(inspectModelFile(path, "given-location"), (e: unknown) => {
        assert.ok(e instanceof ModelFileError);
        assert.equal(e.problem, "LOCATION_REFUSED");
        assert.equal(e.message, `model file given-location: ${LOCATION_REFUSED_MESSAGE}`);
        return true;
      });
    }

    const text = join(scratch, "weights.bin");
    await writeFile(text, "hello, not a model");
    await assert.rejects(inspectModelFile(text), (e: unknown) => e instanceof ModelFileError && e.problem === "UNKNOWN_FORMAT");

    const truncated = join(scratch, "truncated.gguf");
    await copyFile(ggufUrl, truncated);
    const handle = await open(truncated, "r+");
    await handle.truncate(2000); // inside the tokenizer.ggml.tokens array
    await handle.close();
    await assert.rejects(inspectModelFile(truncated), (e: unknown) => {
      assert.ok(e instanceof ModelFileError);
      assert.equal(e.problem, "CORRUPT_HEADER");
      assert.match(e.message, /past end of file/);
      return true;
    });
  });

  it("reads the GGUF's tokenizer.chat_template with its BOS and EOS token strings; the real file has none", async () => {
    const plain = await inspectModelFile(fileURLToPath(ggufUrl));
    assert.equal(plain.config.chatTemplate, undefined);
    const dir = await mkdtemp(join(scratch, "chat-"));
    const path = join(dir, "chat.gguf");
    await writeGgufWithStrings(ggufUrl, path, { "tokenizer.chat_template": CHATML_TEMPLATE });
    const inspection = await inspectModelFile(path);
    assert.equal(inspection.config.chatTemplate, CHATML_TEMPLATE);
    assert.equal(inspection.config.chatTemplateSource, "gguf");
    assert.equal(inspection.config.bosToken, "<s>");
    assert.equal(inspection.config.eosToken, "</s>");
    assert.equal(inspection.vocabSize, 512, "the rest of the header reads as before");
    assert.equal(inspection.tokenizerHash, plain.tokenizerHash);
  });

  it("reads a Hugging Face chat template beside the file: chat_template.jinja, else tokenizer_config.json, never through a link leaving the folder", async () => {
    const dir = await mkdtemp(join(scratch, "hf-"));
    await copyFile(ggufUrl, join(dir, "model.gguf"));
    await writeFile(join(dir, "tokenizer_config.json"), JSON.stringify({ chat_template: LLAMA2_CHAT_TEMPLATE, bos_token: { content: "<s>" }, eos_token: "</s>" }));
    let config = (await inspectModelFile(join(dir, "model.gguf"))).config;
    assert.deepEqual([config.chatTemplate, config.chatTemplateSource, config.bosToken, config.eosToken], [LLAMA2_CHAT_TEMPLATE, "tokenizer_config.json", "<s>", "</s>"]);
    await writeFile(join(dir, "chat_template.jinja"), CHATML_TEMPLATE);
    config = (await inspectModelFile(join(dir, "model.gguf"))).config;
    assert.deepEqual([config.chatTemplate, config.chatTemplateSource, config.bosToken], [CHATML_TEMPLATE, "chat_template.jinja", "<s>"]);

    const outside = await mkdtemp(join(scratch, "outside-"));
    await writeFile(join(outside, "secret.txt"), "not for tenants");
    const linked = await mkdtemp(join(scratch, "linked-"));
    await copyFile(ggufUrl, join(linked, "model.gguf"));
    await symlink(join(outside, "secret.txt"), join(linked, "chat_template.jinja"));
    assert.equal((await inspectModelFile(join(linked, "model.gguf"))).config.chatTemplate, undefined);
    assert.equal(chatTemplateOfTokenizerConfig({ chat_template: [{ name: "tool_use", template: "a" }, { name: "default", template: "b" }] }), "b");
    assert.equal(chatTemplateOfTokenizerConfig({ chat_template: 3 }), null);
  });
});
