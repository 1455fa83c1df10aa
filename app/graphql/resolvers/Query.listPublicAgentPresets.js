import { util } from '@aws-appsync/utils';

// byVisibility (hash visibility, range createdAt), newest first. Needs no identity: with the stack's
// API key enabled this field is public, and the key condition can only ever reach PUBLIC items.
export function request(ctx) {
  const request = {
    operation: 'Query',
    index: 'byVisibility',
    query: {
      expression: '#visibility = :visibility',
      expressionNames: { '#visibility': 'visibility' },
      expressionValues: util.dynamodb.toMapValues({ ':visibility': 'PUBLIC' }),
    },
    scanIndexForward: false,
    limit: pageLimit(ctx.args.limit),
  };
  if (ctx.args.nextToken) request.nextToken = ctx.args.nextToken;
  return request;
}

export function response(ctx) {
  if (ctx.error) util.error(ctx.error.message, ctx.error.type);
  return { items: ctx.result.items, nextToken: ctx.result.nextToken ?? null };
}

function pageLimit(limit) {
  if (limit === undefined || limit === null) return 20;
  if (limit < 1 || limit > 100) util.error(`limit must be between 1 and 100, got ${limit}`, 'BadRequest');
  return limit;
}
