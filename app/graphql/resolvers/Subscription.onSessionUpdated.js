import { util, extensions } from '@aws-appsync/utils';

export function request() {
  return { payload: null };
}

// Enhanced filter, evaluated by AppSync per published event: only the subscriber's own sessions
// (and, when asked, one session). Publishers must select `owner` (and `id`) in the mutation.
export function response(ctx) {
  const sub = ctx.identity?.sub;
  if (!sub) util.unauthorized();
  const filter = { owner: { eq: sub } };
  if (ctx.args.id) filter.id = { eq: ctx.args.id };
  extensions.setSubscriptionFilter(util.transform.toSubscriptionFilter(filter));
  return null;
}
