import { util } from '@aws-appsync/utils';

// limit defaults to 20 and must be 1-100, checked before any read.
export function pageLimit(limit) {
  if (limit === undefined || limit === null) return 20;
  if (limit < 1 || limit > 100) util.error(`limit must be between 1 and 100, got ${limit}`, 'BadRequest');
  return limit;
}

// The client's nextToken passes through as an opaque value.
export function withNextToken(request, args) {
  if (args.nextToken) request.nextToken = args.nextToken;
  return request;
}

// One page of the items of `index` whose hash key `attribute` equals `value`, newest (highest range
// key) first.
export function newestFirst(index, attribute, value, args) {
  return keyPage(index, attribute, value, args, false);
}

// One page of the items of `index` (the table when undefined) whose hash key `attribute` equals
// `value`, in range key order (`forward`) or reversed.
export function keyPage(index, attribute, value, args, forward) {
  const names = {};
  names[`#${attribute}`] = attribute;
  const values = {};
  values[`:${attribute}`] = value;
  const request = {
    operation: 'Query',
    query: {
      expression: `#${attribute} = :${attribute}`,
      expressionNames: names,
      expressionValues: util.dynamodb.toMapValues(values),
    },
    scanIndexForward: forward,
    limit: pageLimit(args.limit),
  };
  if (index !== undefined) request.index = index;
  return withNextToken(request, args);
}

// A Query or Scan result as the schema's connection types: {items, nextToken}.
export function pageResponse(ctx) {
  if (ctx.error) util.error(ctx.error.message, ctx.error.type);
  return { items: ctx.result.items, nextToken: ctx.result.nextToken ?? null };
}
