/**
 * A driver segment of a distributed run (`ordeal run --segment i/n --mocks-service FILE`): it sends
 * its share of the buyers at the shop, with the mocks of a mocks service shared by every segment,
 * and records them. It does not score: its journal holds its buyers and not the mocks' side of
 * their orders (the payments, callbacks, fulfilments are in the service's journal), so what it saw
 * alone would blame the shop for money it never got. `ordeal merge` scores the run as a whole.
 * Its exit code says whether the segment ran to its end — what a Kubernetes Job or a CI matrix
 * needs to know before the merge step.
 */
import { join } from 'node:path';
import { EXIT, OrdealError, type ExitCode } from '../../core/errors.js';
import { formatSegment, type Segment } from '../../core/segments.js';
import { writeRunRecord } from '../score/rescore.js';
import { interruptedExitCode, interruptionOf } from './interrupt.js';
import { prepareOutDir } from './out-dir.js';
import type { MocksServiceAddress } from './remote-mocks.js';
import { recordScenario, runFields, type RunOptions } from './run.js';

export interface SegmentRunOptions extends Omit<RunOptions, 'mocksService' | 'segment' | 'baseline' | 'concurrency'> {
  segment: Segment;
  mocksService: MocksServiceAddress;
}

export interface SegmentRunResult {
  /** 0: the segment ran to its end · 1: it was cut (deadline, the shop gone) · 130 / 143 / 129: interrupted. */
  exitCode: ExitCode;
  outDir: string;
  /** Why the segment's run ended. */
  finished: string;
  /** One paragraph for the console. */
  summary: string;
  previousRunMovedTo?: string;
}

/** Runs segment `options.segment` of the one scenario a mocks service serves; see the module comment. */
export async function runSegment(options: SegmentRunOptions): Promise<SegmentRunResult> {
  if (options.scenarios.length !== 1) {
    throw new OrdealError('ORDEAL_ERR_USAGE', `a mocks service serves one scenario: give its scenario file, not ${options.scenarios.length} scenarios`);
  }
  const loaded = options.scenarios[0]!;
  const { outDir, previousRunMovedTo } = await prepareOutDir(options.outDir);
  const recorded = options.signal?.aborted ? undefined : await recordScenario(loaded, options, outDir);
  const interrupted = interruptionOf(options.signal, [loaded.scenario.name], [recorded]);
  await writeRunRecord(outDir, { ...runFields(options, recorded ? [recorded.scenario.name] : [], interrupted), segment: { ...options.segment } });
  const finished = recorded?.finished ?? 'interrupted';
  const exitCode = interrupted ? interruptedExitCode(interrupted) : finished === 'completed' ? EXIT.passed : EXIT.gateFailed;
  const summary =
    `Segment ${formatSegment(options.segment)} of ${loaded.scenario.name}: ${finished === 'completed' ? 'ran to its end' : `cut (${finished})`}.\n` +
    `Its journal is in ${join(outDir, loaded.scenario.name)}; the run is scored as a whole by \`ordeal merge\` once every segment and the mocks service are done.`;
  return { exitCode, outDir, finished, summary, ...(previousRunMovedTo ? { previousRunMovedTo } : {}) };
}
