import { selfOrAdmin } from './lib/auth.js';
import { newestFirst, pageResponse } from './lib/pages.js';

// byOwner (hash owner, range createdAt), newest first; another owner's presets only for ADMIN.
export function request(ctx) {
  return newestFirst('byOwner', 'owner', selfOrAdmin(ctx, ctx.args.owner), ctx.args);
}

export function response(ctx) {
  return pageResponse(ctx);
}
