import { util } from '@aws-appsync/utils';
import { ownedBy } from '../lib/writes.js';

// Pipeline step: bump the conversation's updatedAt only if ctx.stash.owner (the caller for
// createMessage, the authenticated user for recordAgentReply) owns it. The condition is the ownership
// check, atomic with the write; "missing" and "not yours" both answer Unauthorized.
export function request(ctx) {
  return {
    operation: 'UpdateItem',
    key: util.dynamodb.toMapValues({ id: ctx.args.input.conversationId }),
    update: {
      expression: 'SET #updatedAt = :now',
      expressionNames: { '#updatedAt': 'updatedAt' },
      expressionValues: util.dynamodb.toMapValues({ ':now': ctx.stash.now }),
    },
    condition: ownedBy(ctx.stash.owner),
  };
}

export function response(ctx) {
  if (ctx.error) {
    if (ctx.error.type === 'DynamoDB:ConditionalCheckFailedException') util.unauthorized();
    util.error(ctx.error.message, ctx.error.type);
  }
  return ctx.result;
}
