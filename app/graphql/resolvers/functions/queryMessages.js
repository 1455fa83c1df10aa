import { util } from '@aws-appsync/utils';
import { pageResponse, withNextToken } from '../lib/pages.js';

// Pipeline step: one page of a conversation's messages. sk = <createdAt>#<id>, so the range key orders
// by time and `sk >= since` starts at a moment.
export function request(ctx) {
  const names = { '#conversationId': 'conversationId' };
  const values = { ':conversationId': ctx.args.conversationId };
  let expression = '#conversationId = :conversationId';
  if (ctx.stash.since) {
    expression = `${expression} AND #sk >= :since`;
    names['#sk'] = 'sk';
    values[':since'] = ctx.stash.since;
  }
  return withNextToken({
    operation: 'Query',
    query: { expression, expressionNames: names, expressionValues: util.dynamodb.toMapValues(values) },
    scanIndexForward: ctx.args.sortDirection !== 'DESC',
    limit: ctx.stash.limit,
  }, ctx.args);
}

export function response(ctx) {
  return pageResponse(ctx);
}
