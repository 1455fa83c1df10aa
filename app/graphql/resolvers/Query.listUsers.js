import { util } from '@aws-appsync/utils';

// ADMIN only (the schema restricts the field to the ADMIN group too; this is the second lock).
export function request(ctx) {
  if (!isAdmin(ctx)) util.unauthorized();
  const request = { operation: 'Scan', limit: pageLimit(ctx.args.limit) };
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
