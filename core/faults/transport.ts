/** Transport faults: a mock route's connection breaks (any service). */
import { z } from 'zod';
import { MOCK_SERVICES, failingTimes } from '../schema-parts.js';
import { defineFault } from './define.js';
import { failingChannel } from './evidence.js';

/** The four ways a connection breaks share their parameters and their rules. */
function transportFault<const Id extends string>(id: Id, breakage: { summary: string; models: string; label: string; detect: number }) {
  return defineFault({
    id,
    family: 'transport',
    params: {
      /** Which mock's connections break. */
      service: z.enum(MOCK_SERVICES),
      /** Route names of that mock (e.g. create, query, reserve, fulfil, send, assess). @default every route */
      routes: z.array(z.string()).min(1).optional(),
      /** Break only the first N calls per buyer and route. @default every call */
      times: failingTimes.optional(),
    },
    injectedBy: 'any mock route',
    recovery: 'complete-or-fail-cleanly',
    text: {
      summary: breakage.summary,
      parameters: '`service` (`payment`, `stock`, `notify`, `risk`), `routes`, `times`',
      models: `broken connections on any mock route: ${breakage.models}`,
      expectation: 'no false success; recovery',
    },
    stages: failingChannel(breakage.detect, breakage.label),
  });
}

export const TRANSPORT_FAULTS = [
  transportFault('transport.reset', { summary: 'connections to a dependency are reset', models: 'a real TCP reset', label: 'reset connection', detect: 3000 }),
  transportFault('transport.empty', { summary: 'a dependency answers with an empty reply', models: 'an empty reply', label: 'empty answer', detect: 3000 }),
  transportFault('transport.malformed', { summary: 'a dependency answers with a truncated reply', models: 'a truncated reply', label: 'malformed answer', detect: 3000 }),
  transportFault('transport.dribble', { summary: 'a dependency answers a few bytes at a time', models: 'a reply a few bytes at a time', label: 'dribbled answer', detect: 5000 }),
] as const;
