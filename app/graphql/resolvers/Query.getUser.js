import { util } from '@aws-appsync/utils';

// Profiles are keyed by the Cognito sub, so ownership is known before the read:
// only ADMIN may name another user's id.
export function request(ctx) {
  const sub = ctx.identity?.sub;
  if (!sub) util.unauthorized();
  const id = ctx.args.id ?? sub;
  if (id !== sub && !isAdmin(ctx)) util.unauthorized();
  return { operation: 'GetItem', key: util.dynamodb.toMapValues({ id }) };
}

export function response(ctx) {
  if (ctx.error) util.error(ctx.error.message, ctx.error.type);
  return ctx.result ?? null;
}

function isAdmin(ctx) {
  const groups = ctx.identity?.groups ?? ctx.identity?.claims?.['cognito:groups'] ?? [];
  return groups.indexOf('ADMIN') !== -1;
}
