/** The three stages every incident is scored on. */
export const STAGE_NAMES = ['detect', 'notify', 'recover'] as const;
export type StageName = (typeof STAGE_NAMES)[number];

/** A deadline per stage, in milliseconds from the incident's start. */
export type StageDeadlines = Record<StageName, number>;
