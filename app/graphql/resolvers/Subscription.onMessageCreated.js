import { util, extensions } from '@aws-appsync/utils';

export function request() {
  return { payload: null };
}

// Enhanced filter: messages of this conversation written for the subscriber. Naming someone else's
// conversation id therefore yields nothing, with no read needed at subscribe time.
export function response(ctx) {
  const sub = ctx.identity?.sub;
  if (!sub) util.unauthorized();
  extensions.setSubscriptionFilter(
    util.transform.toSubscriptionFilter({
      owner: { eq: sub },
      conversationId: { eq: ctx.args.conversationId },
    }),
  );
  return null;
}
