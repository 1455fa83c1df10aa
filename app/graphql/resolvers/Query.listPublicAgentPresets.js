import { newestFirst, pageResponse } from './lib/pages.js';

// byVisibility (hash visibility, range createdAt), newest first. Needs no identity: with the stack's
// API key enabled this field is public, and the key condition can only ever reach PUBLIC items.
export function request(ctx) {
  return newestFirst('byVisibility', 'visibility', 'PUBLIC', ctx.args);
}

export function response(ctx) {
  return pageResponse(ctx);
}
