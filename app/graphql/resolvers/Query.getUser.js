import { util } from '@aws-appsync/utils';
import { selfOrAdmin } from './lib/auth.js';

// Profiles are keyed by the Cognito sub, so ownership is known before the read:
// only ADMIN may name another user's id.
export function request(ctx) {
  return { operation: 'GetItem', key: util.dynamodb.toMapValues({ id: selfOrAdmin(ctx, ctx.args.id) }) };
}

export function response(ctx) {
  if (ctx.error) util.error(ctx.error.message, ctx.error.type);
  return ctx.result ?? null;
}
