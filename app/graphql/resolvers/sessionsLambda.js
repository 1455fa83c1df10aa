import { util } from '@aws-appsync/utils';

// One resolver code for getSession, listSessions, startSession and stopSession: the Sessions API
// Lambda dispatches on info.fieldName and owns the rules (quota, idempotency, ownership).
// It receives exactly {arguments, identity: {sub, claims: {"cognito:groups"}}, info: {fieldName,
// parentTypeName}}; nothing else of the caller's token leaves AppSync.
export function request(ctx) {
  const sub = ctx.identity?.sub;
  if (!sub) util.unauthorized();
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

// A raised Lambda error arrives in ctx.error (its errorMessage, type Lambda:Unhandled) and is passed on.
// Results are checked once more here, so a Lambda bug cannot hand a user someone else's session.
export function response(ctx) {
  if (ctx.error) util.error(ctx.error.message, ctx.error.type);
  const admin = groups(ctx).indexOf('ADMIN') !== -1;
  const result = ctx.result;
  if (ctx.info.fieldName === 'listSessions') {
    const items = result?.items ?? [];
    if (!admin && items.some((session) => session.owner !== ctx.identity.sub)) util.unauthorized();
    return { items, nextToken: result?.nextToken ?? null };
  }
  if (result && result.owner !== ctx.identity.sub && !admin) util.unauthorized();
  return result ?? null;
}

function groups(ctx) {
  return ctx.identity?.groups ?? ctx.identity?.claims?.['cognito:groups'] ?? [];
}

function pageLimit(limit) {
  if (limit === undefined || limit === null) return 20;
  if (limit < 1 || limit > 100) util.error(`limit must be between 1 and 100, got ${limit}`, 'BadRequest');
  return limit;
}
