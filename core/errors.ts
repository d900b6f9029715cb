/**
 * The one error catalogue. Every error the harness throws on purpose has a stable code, an exit
 * code and a message that says what to do. Shop failures are never thrown: they are journal data.
 */

export const EXIT = {
  /** The gate passed. */
  passed: 0,
  /** The gate failed: score, invariant or steady-state threshold. */
  gateFailed: 1,
  /** Invalid input or usage: a bad scenario, an unknown flag value. */
  invalidInput: 2,
  /** The target shop could not be reached or never became ready. */
  targetUnreachable: 3,
  /** Ordeal itself failed. */
  harnessFault: 4,
  /** Interrupted by SIGINT (Ctrl-C): 128 + 2, as shells report it. What ran is scored and reported. */
  interrupted: 130,
  /** Interrupted by SIGTERM: 128 + 15. What ran is scored and reported. */
  terminated: 143,
  /** Interrupted by SIGHUP (the terminal closed): 128 + 1. What ran is scored and reported. */
  hungUp: 129,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

interface CatalogueEntry {
  exitCode: ExitCode;
  /** What the user should do about it, appended to the message. */
  hint: string;
}

export const ERRORS = {
  ORDEAL_ERR_SCENARIO_NOT_FOUND: { exitCode: EXIT.invalidInput, hint: 'Check the path; folders are searched for *.yaml, *.yml and *.ts files.' },
  ORDEAL_ERR_SCENARIO_PARSE: { exitCode: EXIT.invalidInput, hint: 'Fix the syntax at the position shown.' },
  ORDEAL_ERR_SCENARIO_INVALID: { exitCode: EXIT.invalidInput, hint: 'Fix the field named above; `ordeal validate FILE` checks a file without running it.' },
  ORDEAL_ERR_SCENARIO_DUPLICATE_NAME: { exitCode: EXIT.invalidInput, hint: 'Give every scenario in one run its own name.' },
  ORDEAL_ERR_USAGE: { exitCode: EXIT.invalidInput, hint: 'See `ordeal --help`.' },
  ORDEAL_ERR_UNKNOWN_FLAW: { exitCode: EXIT.invalidInput, hint: 'The README lists them under Flaws.' },
  ORDEAL_ERR_OUT_DIR: { exitCode: EXIT.invalidInput, hint: 'Choose a folder Ordeal can create and write.' },
  ORDEAL_ERR_UNSAFE_TARGET: { exitCode: EXIT.invalidInput, hint: 'Ordeal only sends traffic to loopback (127.0.0.1, ::1, localhost), and in a Kubernetes run (ORDEAL_NETWORK=cluster) to the cluster\'s own network.' },
  ORDEAL_ERR_TARGET_PROFILE: { exitCode: EXIT.invalidInput, hint: 'Fix the target profile at the place named above (README: "Testing your own shop").' },
  ORDEAL_ERR_TARGET_ADAPTER: { exitCode: EXIT.invalidInput, hint: 'Fix the adapter named above: a module\'s default export is defineTarget({...}), a declarative adapter is a .yaml file, and the kit\'s helpers (harness/targets/kit) take what their types say (README: "Testing your own shop").' },
  ORDEAL_ERR_TARGET_START: { exitCode: EXIT.targetUnreachable, hint: 'Check the target command; its output is in target.log in the run folder.' },
  ORDEAL_ERR_PORT_IN_USE: { exitCode: EXIT.invalidInput, hint: 'Pick another port in the profile field named above (`mocks.ports`), or stop what listens there (`ss -ltnp` shows it).' },
  ORDEAL_ERR_TARGET_UNREACHABLE: { exitCode: EXIT.targetUnreachable, hint: 'The shop must answer its health path (GET /health unless its profile names another) with 2xx on the PORT it is given.' },
  ORDEAL_ERR_MOCKS_SERVICE: { exitCode: EXIT.targetUnreachable, hint: 'Start `ordeal mocks serve SCENARIO` first and pass the control URL and key it wrote to mocks-service.json (`--mocks-service FILE`).' },
  ORDEAL_ERR_RUN_DIR: { exitCode: EXIT.invalidInput, hint: 'Pass a folder written by `ordeal run`.' },
  ORDEAL_ERR_REPORT_FILE: { exitCode: EXIT.invalidInput, hint: 'Pass a report.json written by `ordeal run` (schemaVersion 1), or the run folder that holds it.' },
  ORDEAL_ERR_HARNESS: { exitCode: EXIT.harnessFault, hint: 'This is a bug in Ordeal; please report it with the run folder.' },
} as const satisfies Record<string, CatalogueEntry>;

export type ErrorCode = keyof typeof ERRORS;

export class OrdealError extends Error {
  readonly code: ErrorCode;
  readonly exitCode: ExitCode;
  readonly hint: string;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'OrdealError';
    this.code = code;
    this.exitCode = ERRORS[code].exitCode;
    this.hint = ERRORS[code].hint;
  }

  /** The message as printed by the CLI: code, message, then what to do. */
  format(): string {
    return `${this.code}: ${this.message}\n  ${this.hint}`;
  }
}

export function isOrdealError(error: unknown): error is OrdealError {
  return error instanceof OrdealError;
}
