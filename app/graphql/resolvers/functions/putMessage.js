import { util } from '@aws-appsync/utils';

// Pipeline step: write the message built and validated by the resolver's request step.
// sk = <createdAt>#<id> sorts a conversation's messages by time and never collides.
export function request(ctx) {
  const message = ctx.stash.message;
  return {
    operation: 'PutItem',
    key: util.dynamodb.toMapValues({
      conversationId: ctx.args.input.conversationId,
      sk: `${message.createdAt}#${message.id}`,
    }),
    attributeValues: util.dynamodb.toMapValues(message),
    condition: { expression: 'attribute_not_exists(#sk)', expressionNames: { '#sk': 'sk' } },
  };
}

export function response(ctx) {
  if (ctx.error) util.error(ctx.error.message, ctx.error.type);
  return ctx.result;
}
