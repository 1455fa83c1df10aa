import { requireIamRole } from './lib/auth.js';

// NONE data source: the task-state handler (IAM) has already written the session item; this only
// returns it so AppSync fans it out to onSessionUpdated. The schema admits IAM callers only; federated
// end-user identities (an identity pool's cognitoIdentityId) are refused here as well.
export function request(ctx) {
  requireIamRole(ctx);
  return { payload: ctx.args.input };
}

export function response(ctx) {
  return ctx.result;
}
