#!/usr/bin/env node
/**
 * The `ordeal` command: a thin layer that parses arguments and calls the library.
 * Exit codes: 0 gate passed · 1 gate failed · 2 invalid input or usage · 3 target unreachable · 4 harness fault.
 */
import { join, resolve } from 'node:path';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { parseFlaws, SHOP_FLAWS } from '../shop/flaws.js';
import { EXIT, OrdealError, isOrdealError, type ExitCode } from './errors.js';
import { displayPath, loadScenarioFile, loadScenarios } from './loader.js';
import { run } from './run.js';
import { scenarioJsonSchema } from './scenario-schema.js';
import { packageRoot } from './target.js';

const EXIT_CODES_TEXT = `Exit codes:
  0  the gate passed
  1  the gate failed (score, invariant or steady state)
  2  invalid input or usage (bad scenario, unknown flag value)
  3  the target shop could not be started or reached
  4  Ordeal itself failed`;

function defaultSuite(): string {
  return join(packageRoot(), 'scenarios');
}

function timestamp(): string {
  return new Date().toISOString().replace(/[:.]/g, '-').replace('T', '_').slice(0, 19);
}

function shellQuote(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}

export async function main(argv: string[]): Promise<ExitCode> {
  let exitCode: ExitCode = EXIT.passed;
  const parser = yargs(argv)
    .scriptName('ordeal')
    .usage('$0 <command> [options]\n\nChaos-testing harness for card-shop order pipelines.')
    .command(
      'run [paths..]',
      'Run scenarios (files or folders; default: the built-in suite) against a shop',
      (command) =>
        command
          .positional('paths', { type: 'string', array: true, describe: 'Scenario files or folders' })
          .option('flaws', {
            type: 'string',
            describe: `Flaws to switch on in the built-in shop, comma-separated: ${SHOP_FLAWS.map((flaw) => flaw.name).join(', ')}`,
          })
          .option('seed', { type: 'number', describe: 'Seed for buyers and fault decisions (overrides the scenarios)' })
          .option('out', { type: 'string', describe: 'Folder the run writes into (default: runs/<timestamp>)' })
          .option('min-score', { type: 'number', describe: 'Fail the gate below this overall score (0–100)' })
          .option('target-command', {
            type: 'string',
            describe: 'Shell command starting a contract-v1 shop (gets PORT, ORDEAL_* URLs and secret); default: the built-in shop',
          })
          .option('parallel', { type: 'number', default: 1, describe: 'Scenarios run at the same time (each with its own shop and mocks)' })
          .option('quiet', { type: 'boolean', default: false, describe: 'Print only the final report' })
          .epilogue(EXIT_CODES_TEXT),
      async (args) => {
        const flaws = args.flaws ? parseFlawList(args.flaws) : [];
        if (flaws.length > 0 && args.targetCommand) {
          throw new OrdealError('ORDEAL_ERR_USAGE', '--flaws applies to the built-in shop only; drop it or --target-command');
        }
        if (args.seed !== undefined && (!Number.isInteger(args.seed) || args.seed < 0)) {
          throw new OrdealError('ORDEAL_ERR_USAGE', `--seed must be a whole number ≥ 0, got ${args.seed}`);
        }
        if (args.minScore !== undefined && (Number.isNaN(args.minScore) || args.minScore < 0 || args.minScore > 100)) {
          throw new OrdealError('ORDEAL_ERR_USAGE', `--min-score must be between 0 and 100, got ${args.minScore}`);
        }
        if (!Number.isInteger(args.parallel) || args.parallel < 1 || args.parallel > 16) {
          throw new OrdealError('ORDEAL_ERR_USAGE', `--parallel must be a whole number from 1 to 16, got ${args.parallel}`);
        }
        const paths = args.paths && args.paths.length > 0 ? args.paths : [defaultSuite()];
        const scenarios = await loadScenarios(paths);
        const outDir = resolve(args.out ?? join('runs', timestamp()));
        const replay = [
          'ordeal run',
          ...paths.map((path) => shellQuote(displayPath(path))),
          ...(args.seed === undefined ? [] : [`--seed ${args.seed}`]),
          ...(flaws.length > 0 ? [`--flaws ${flaws.join(',')}`] : []),
          ...(args.targetCommand ? [`--target-command ${shellQuote(args.targetCommand)}`] : []),
          ...(args.minScore !== undefined ? [`--min-score ${args.minScore}`] : []),
        ].join(' ');
        const result = await run({
          scenarios,
          outDir,
          ...(args.seed === undefined ? {} : { seed: args.seed }),
          flaws,
          ...(args.targetCommand ? { targetCommand: args.targetCommand } : {}),
          ...(args.minScore === undefined ? {} : { minScore: args.minScore }),
          replay,
          concurrency: args.parallel,
          color: Boolean(process.stdout.isTTY) && !process.env.NO_COLOR,
          log: args.quiet ? () => undefined : (line) => process.stderr.write(`${line}\n`),
        });
        process.stdout.write(`${result.summary}\n`);
        process.stdout.write(`Reports: ${displayPath(join(result.outDir, 'report.json'))}, ${displayPath(join(result.outDir, 'report.md'))}\n`);
        exitCode = result.exitCode;
      },
    )
    .command(
      'validate <file>',
      'Check a scenario file without running it',
      (command) => command.positional('file', { type: 'string', demandOption: true }).epilogue(EXIT_CODES_TEXT),
      async (args) => {
        const scenario = await loadScenarioFile(args.file);
        process.stdout.write(`${displayPath(args.file)}: valid scenario "${scenario.name}"\n`);
      },
    )
    .command(
      'schema scenario',
      'Print the scenario JSON Schema (for editors)',
      (command) => command,
      () => {
        process.stdout.write(`${JSON.stringify(scenarioJsonSchema(), null, 2)}\n`);
      },
    )
    .demandCommand(1, 'Name a command: run, validate or schema.')
    .strict()
    .epilogue(EXIT_CODES_TEXT)
    .help()
    .version(false)
    .fail((message, error) => {
      if (error) throw error;
      throw new OrdealError('ORDEAL_ERR_USAGE', message);
    });

  try {
    await parser.parseAsync();
  } catch (error) {
    if (isOrdealError(error)) {
      process.stderr.write(`${error.format()}\n`);
      return error.exitCode;
    }
    process.stderr.write(`ORDEAL_ERR_HARNESS: ${(error as Error).stack ?? String(error)}\n`);
    return EXIT.harnessFault;
  }
  return exitCode;
}

function parseFlawList(text: string): string[] {
  try {
    return parseFlaws(text);
  } catch (error) {
    throw new OrdealError('ORDEAL_ERR_UNKNOWN_FLAW', (error as Error).message, { cause: error });
  }
}

main(hideBin(process.argv)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`ORDEAL_ERR_HARNESS: ${String(error)}\n`);
    process.exitCode = EXIT.harnessFault;
  },
);
