import { util } from '@aws-appsync/utils';
import { callerSub } from './lib/auth.js';
import { pageLimit } from './lib/pages.js';

// Pipeline: authorizeConversationRead (owner or ADMIN) -> queryMessages. Arguments are checked here,
// before any read.
export function request(ctx) {
  callerSub(ctx);
  ctx.stash.limit = pageLimit(ctx.args.limit);
  if (ctx.args.since) {
    // sk starts with the UTC creation time; an offset like +09:00 must become the same Z form to compare.
    ctx.stash.since = util.time.epochMilliSecondsToISO8601(util.time.parseISO8601ToEpochMilliSeconds(ctx.args.since));
  }
  return {};
}

export function response(ctx) {
  return ctx.prev.result;
}
