import { util } from '@aws-appsync/utils';

// The caller's Cognito groups, as AppSync presents them (ctx.identity.groups, else the token's claim).
export function groups(ctx) {
  return ctx.identity?.groups ?? ctx.identity?.claims?.['cognito:groups'] ?? [];
}

export function isAdmin(ctx) {
  return groups(ctx).indexOf('ADMIN') !== -1;
}

// The caller's Cognito sub; a request without one (API key, IAM) is refused.
export function callerSub(ctx) {
  const sub = ctx.identity?.sub;
  if (!sub) util.unauthorized();
  return sub;
}

// A user id argument that defaults to the caller: only ADMIN may name someone else. Ownership is
// known before any read, so the request never reaches the data source.
export function selfOrAdmin(ctx, requested) {
  const sub = callerSub(ctx);
  const id = requested ?? sub;
  if (id !== sub && !isAdmin(ctx)) util.unauthorized();
  return id;
}

// A backend caller signing with IAM (a role's userArn). Federated end-user identities (an identity
// pool's cognitoIdentityId) and user-pool callers are refused, whatever the schema allows.
export function requireIamRole(ctx) {
  if (!ctx.identity?.userArn || ctx.identity.cognitoIdentityId || ctx.identity.sub) util.unauthorized();
  return ctx.identity.userArn;
}
