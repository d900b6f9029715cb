/** `npm run bench:workers`: see bench/workers-compare.ts. */
import { numberArg, parseArgs, runMain } from './lib.js';
import { compareWorkers } from './workers-compare.js';

async function main(): Promise<void> {
  const args = parseArgs();
  await compareWorkers({
    rates: (args.get('rates') ?? '500,1000,1500,2000').split(',').map(Number),
    seconds: numberArg(args, 'seconds', 8),
    repeats: numberArg(args, 'repeats', 2),
    workers: numberArg(args, 'workers', 2),
  });
}

runMain(main);
