import { util } from '@aws-appsync/utils';
import { callerSub, groups, isAdmin } from './lib/auth.js';
import { pageLimit } from './lib/pages.js';

// The Sessions Lambda's user-facing error classes (app/sessions/errors.py): it returns these as
// {error: {type, message}} with a message written for the caller.
const ERROR_TYPES = [
  'ValidationError', 'Unauthorized', 'Forbidden', 'SessionNotFound', 'QuotaExceeded', 'IdempotencyConflict',
  'BudgetLimitReached', 'CapacityUnavailable', 'SessionLaunchFailed', 'ServiceBusy', 'ServiceUnavailable',
  'RepositoryAccessDenied',
];
const INTERNAL_ERROR = 'The sessions service failed unexpectedly; try again later.';

// One resolver code for getSession, listSessions, startSession and stopSession: the Sessions API
// Lambda dispatches on info.fieldName and owns the rules (quota, idempotency, ownership).
// It receives exactly {arguments, identity: {sub, claims: {"cognito:groups"}}, info: {fieldName,
// parentTypeName}}; nothing else of the caller's token leaves AppSync.
export function request(ctx) {
  const sub = callerSub(ctx);
  const args = ctx.info.fieldName === 'listSessions' ? { ...ctx.args, limit: pageLimit(ctx.args.limit) } : ctx.args;
  return {
    operation: 'Invoke',
    payload: {
      arguments: args,
      identity: { sub, claims: { 'cognito:groups': groups(ctx) } },
      info: { fieldName: ctx.info.fieldName, parentTypeName: ctx.info.parentTypeName },
    },
  };
}

// A raised Lambda error (a bug, a timeout, a crash) reaches ctx.error as Lambda:Unhandled with a message
// that may hold internals, so the caller gets only a generic InternalError; the details are in the
// Lambda's logs. User-facing failures come back as a result {error: {type, message}} and become that
// GraphQL error, nothing else attached. Results are checked once more here, so a Lambda bug cannot hand
// a user someone else's session.
export function response(ctx) {
  if (ctx.error) util.error(INTERNAL_ERROR, 'InternalError');
  const result = ctx.result;
  if (result && Object.hasOwn(result, 'error')) typedError(result.error);
  const admin = isAdmin(ctx);
  if (ctx.info.fieldName === 'listSessions') {
    const items = result?.items ?? [];
    if (!admin && items.some((session) => session.owner !== ctx.identity.sub)) util.unauthorized();
    return { items, nextToken: result?.nextToken ?? null };
  }
  if (result && result.owner !== ctx.identity.sub && !admin) util.unauthorized();
  return result ?? null;
}

// An error outside the contract (unknown type, no message) is a Lambda bug: its text is not vetted.
function typedError(error) {
  const known = error !== null && typeof error === 'object' && ERROR_TYPES.indexOf(error.type) !== -1
    && typeof error.message === 'string' && error.message.trim().length > 0;
  if (!known) util.error(INTERNAL_ERROR, 'InternalError');
  util.error(error.message, error.type);
}
