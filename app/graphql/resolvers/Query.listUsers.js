import { util } from '@aws-appsync/utils';
import { isAdmin } from './lib/auth.js';
import { pageLimit, pageResponse, withNextToken } from './lib/pages.js';

// ADMIN only (the schema restricts the field to the ADMIN group too; this is the second lock).
export function request(ctx) {
  if (!isAdmin(ctx)) util.unauthorized();
  return withNextToken({ operation: 'Scan', limit: pageLimit(ctx.args.limit) }, ctx.args);
}

export function response(ctx) {
  return pageResponse(ctx);
}
