import { selfOrAdmin } from './lib/auth.js';
import { newestFirst, pageResponse } from './lib/pages.js';

// byOwner (hash owner, range updatedAt), newest activity first. The key condition itself scopes the
// read to one owner, so only naming someone else's owner id needs ADMIN.
export function request(ctx) {
  return newestFirst('byOwner', 'owner', selfOrAdmin(ctx, ctx.args.owner), ctx.args);
}

export function response(ctx) {
  return pageResponse(ctx);
}
