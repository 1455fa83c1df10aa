import { util } from '@aws-appsync/utils';
import { isAdmin } from '../lib/auth.js';

// Pipeline step: the conversation must exist and belong to the caller (ADMIN may read any).
export function request(ctx) {
  return { operation: 'GetItem', key: util.dynamodb.toMapValues({ id: ctx.args.conversationId }) };
}

export function response(ctx) {
  if (ctx.error) util.error(ctx.error.message, ctx.error.type);
  const conversation = ctx.result;
  if (!conversation) util.error(`Conversation ${ctx.args.conversationId} not found`, 'NotFound');
  if (conversation.owner !== ctx.identity.sub && !isAdmin(ctx)) util.unauthorized();
  return conversation;
}
