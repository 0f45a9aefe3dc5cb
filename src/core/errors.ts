/**
 * One error taxonomy for the whole hub. The type's prefix names the stage that failed
 * (client., mapping., schema., trust., transport., server.), so a caller and an operator
 * can tell at a glance whose move it is. Messages never carry payload values: they name
 * fields and problems, because payloads may hold personal data.
 */
export type ErrorStage = 'client' | 'mapping' | 'schema' | 'trust' | 'transport' | 'server';

/** One precise complaint, e.g. a schema violation at a path. Never holds payload values. */
export interface ErrorDetail {
  /** JSON pointer or dotted path of the offending field, when there is one. */
  field?: string;
  /** What is wrong, in words a caller can act on. */
  reason: string;
  /** Machine-readable keyword (e.g. ajv keyword, "unmapped-code", "bad-date"). */
  code?: string;
}

const DEFAULT_STATUS: Record<ErrorStage, number> = {
  client: 400,
  mapping: 422,
  schema: 422,
  trust: 403,
  transport: 502,
  server: 500,
};

export class HubError extends Error {
  readonly type: string;
  readonly status: number;
  readonly detail: ErrorDetail[];

  constructor(type: string, message: string, options: { status?: number; detail?: ErrorDetail[]; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'HubError';
    this.type = type;
    this.status = options.status ?? DEFAULT_STATUS[stageOf(type)] ?? 500;
    this.detail = options.detail ?? [];
  }

  get stage(): ErrorStage {
    return stageOf(this.type);
  }

  /** The same error with another status, e.g. a mapping failure on the peer's answer is the peer's fault (502). */
  withStatus(status: number): HubError {
    return new HubError(this.type, this.message, { status, detail: this.detail, cause: this.cause });
  }
}

function stageOf(type: string): ErrorStage {
  const stage = type.split('.', 1)[0] as ErrorStage;
  return stage in DEFAULT_STATUS ? stage : 'server';
}

export function isHubError(error: unknown): error is HubError {
  return error instanceof HubError;
}

/** Anything thrown that is not a HubError is our bug: report it as server.internal without its text. */
export function toHubError(error: unknown): HubError {
  if (isHubError(error)) return error;
  return new HubError('server.internal', 'Lỗi nội bộ của hub / internal hub error', { status: 500, cause: error });
}
