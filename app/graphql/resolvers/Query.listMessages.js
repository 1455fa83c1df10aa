import { util } from '@aws-appsync/utils';

// Pipeline: authorizeConversationRead (owner or ADMIN) -> queryMessages. Arguments are checked here,
// before any read.
export function request(ctx) {
  if (!ctx.identity?.sub) util.unauthorized();
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

function pageLimit(limit) {
  if (limit === undefined || limit === null) return 20;
  if (limit < 1 || limit > 100) util.error(`limit must be between 1 and 100, got ${limit}`, 'BadRequest');
  return limit;
}
