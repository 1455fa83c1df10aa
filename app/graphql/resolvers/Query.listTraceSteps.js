import { util } from '@aws-appsync/utils';
import { callerSub, isAdmin } from './lib/auth.js';
import { keyPage, pageResponse } from './lib/pages.js';

// The steps of one message in step order. Each step carries its owner (the conversation's), checked
// in the response: a non-ADMIN caller is refused if the page holds anything not theirs.
export function request(ctx) {
  callerSub(ctx);
  return keyPage(undefined, 'messageId', ctx.args.messageId, ctx.args, true);
}

export function response(ctx) {
  const page = pageResponse(ctx);
  if (!isAdmin(ctx)) {
    for (const step of page.items) if (step.owner !== ctx.identity.sub) util.unauthorized();
  }
  return page;
}
