import { util } from '@aws-appsync/utils';
import { callerSub, isAdmin } from './lib/auth.js';

export function request(ctx) {
  callerSub(ctx);
  return { operation: 'GetItem', key: util.dynamodb.toMapValues({ id: ctx.args.id }) };
}

// The owner is only known after the read: non-owners (other than ADMIN) get Unauthorized.
export function response(ctx) {
  if (ctx.error) util.error(ctx.error.message, ctx.error.type);
  const conversation = ctx.result;
  if (!conversation) return null;
  if (conversation.owner !== ctx.identity.sub && !isAdmin(ctx)) util.unauthorized();
  return conversation;
}
