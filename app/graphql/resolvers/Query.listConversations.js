import { util } from '@aws-appsync/utils';

// byOwner (hash owner, range updatedAt), newest activity first. The key condition itself scopes the
// read to one owner, so only naming someone else's owner id needs ADMIN.
export function request(ctx) {
  const sub = ctx.identity?.sub;
  if (!sub) util.unauthorized();
  const owner = ctx.args.owner ?? sub;
  if (owner !== sub && !isAdmin(ctx)) util.unauthorized();
  const request = {
    operation: 'Query',
    index: 'byOwner',
    query: {
      expression: '#owner = :owner',
      expressionNames: { '#owner': 'owner' },
      expressionValues: util.dynamodb.toMapValues({ ':owner': owner }),
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

function isAdmin(ctx) {
  const groups = ctx.identity?.groups ?? ctx.identity?.claims?.['cognito:groups'] ?? [];
  return groups.indexOf('ADMIN') !== -1;
}

function pageLimit(limit) {
  if (limit === undefined || limit === null) return 20;
  if (limit < 1 || limit > 100) util.error(`limit must be between 1 and 100, got ${limit}`, 'BadRequest');
  return limit;
}
