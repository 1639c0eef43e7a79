/** @module gpu-runner/cli/model
 * `--model` resolution: a directory is an HF folder (config.json, tokenizer.json, *.safetensors), a file a GGUF.
 */
import { statSync } from "node:fs";
import { loadGguf, loadHfFolder, type LoadedModel } from "../engine/index.ts";
import { CliUsageError } from "./args.ts";

export async function loadModel(path: string): Promise<LoadedModel> {
  const stat = statSync(path, { throwIfNoEntry: false });
  if (!stat) throw new CliUsageError(`--model ${path} does not exist`);
  return stat.isDirectory() ? loadHfFolder(path) : loadGguf(path);
}
