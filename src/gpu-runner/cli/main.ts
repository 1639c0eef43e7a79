/** @module gpu-runner/cli/main
 * `npm run parm -- <command> [options]`: `train` (train a PARM/GenARM ARM on local files), `dump` (one train step
 * as safetensors for cross-framework checks), `help`. Usage errors print the usage and exit with code 2; other
 * failures print `<name> <code>: message` and exit with code 1.
 */
import { CliUsageError } from "./args.ts";
import { DUMP_USAGE, runDump } from "./dump-command.ts";
import { runGenerateCommand } from "./generate.ts";
import { runTrain, TRAIN_USAGE } from "./train-command.ts";
import { EVALUATE_USAGE, runEvaluateCommand, runTrainEvaluatorCommand, TRAIN_EVALUATOR_USAGE } from "./evaluate.ts";

export const USAGE = `usage: npm run parm -- <command> [options]\n\n${TRAIN_USAGE}\n\n${DUMP_USAGE}\n\n${TRAIN_EVALUATOR_USAGE}\n\n${EVALUATE_USAGE}\n`;

/** Where a command writes: stdout for results, stderr for progress and errors (`isTTY` redraws progress in place). */
export interface CliIo {
  readonly stdout: NodeJS.WritableStream & { isTTY?: boolean };
  readonly stderr: NodeJS.WritableStream & { isTTY?: boolean };
}

/** Runs one command; returns the process exit code. */
export async function main(argv: readonly string[], io: CliIo = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const command = argv[0];
  try {
    switch (command) {
      case "train":
        await runTrain(argv, io);
        return 0;
      case "generate": return await runGenerateCommand(argv.slice(1), io);
      case "evaluate": return await runEvaluateCommand(argv.slice(1), io);
      case "train-evaluator": return await runTrainEvaluatorCommand(argv.slice(1), io);
      case "dump":
        await runDump(argv, io);
        return 0;
      case undefined:
      case "help":
      case "--help":
      case "-h":
        io.stdout.write(USAGE);
        return command === undefined ? 2 : 0;
      default:
        throw new CliUsageError(`unknown command "${command}" (train, dump, help)`);
    }
  } catch (error) {
    if (error instanceof CliUsageError) {
      io.stderr.write(`parm: ${error.message}\n\n${USAGE}`);
      return 2;
    }
    const e = error as Error & { code?: string };
    io.stderr.write(`parm: ${e.name}${e.code ? ` ${e.code}` : ""}: ${e.message}\n`);
    return 1;
  }
}

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith("cli/main.ts")) {
  process.exitCode = await main(process.argv.slice(2));
}
