// API errors in OpenAI's shape, `{error: {message, type, param, code}}`, with the HTTP status each kind
// of failure gets (the statuses the official clients map to typed errors: 400 BadRequestError,
// 401 AuthenticationError, 404 NotFoundError, 429 RateLimitError, 500 InternalServerError).

import { ZodError } from 'zod';
import { ChatInputError } from '../infer/engine.ts';

export type ErrorStatus = 400 | 401 | 404 | 413 | 429 | 500 | 503;

const typeOf: Record<ErrorStatus, string> = {
  400: 'invalid_request_error', 401: 'authentication_error', 404: 'not_found_error', 413: 'invalid_request_error',
  429: 'rate_limit_error', 500: 'server_error', 503: 'server_error',
};

export class ApiError extends Error {
  constructor(readonly status: ErrorStatus, message: string, readonly param: string | null = null, readonly code: string | null = null) {
    super(message);
    this.name = 'ApiError';
  }
}

export interface ErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

/** Any thrown value as an ApiError: request problems are 400, everything unexpected is 500. */
export function toApiError(e: unknown): ApiError {
  if (e instanceof ApiError) return e;
  if (e instanceof ZodError) {
    const issue = e.issues[0];
    const param = issue && issue.path.length ? issue.path.map(String).join('.') : null;
    return new ApiError(400, `invalid request: ${param ? `${param}: ` : ''}${issue?.message ?? 'bad value'}`, param, 'invalid_value');
  }
  if (e instanceof ChatInputError) return new ApiError(400, e.message, e.param, e.code);
  return new ApiError(500, `internal error: ${(e as Error)?.message ?? String(e)}`, null, 'internal_error');
}

export function errorBody(e: ApiError): ErrorBody {
  return { error: { message: e.message, type: typeOf[e.status], param: e.param, code: e.code } };
}
