import { util } from '@aws-appsync/utils';
import { requireIamRole } from './lib/auth.js';

// NONE data source: the sessions Lambdas (IAM) have already written the session item; this only
// returns it so AppSync fans it out to onSessionUpdated. The schema admits IAM callers only; federated
// end-user identities (an identity pool's cognitoIdentityId) are refused here as well, and so is any
// IAM principal that is not one of the sessions functions' roles (Pulumi names them
// sessions-<api|task-state|reaper>-<7 hex>, components/sessions.py): another principal of the account
// holding appsync:GraphQL must not push a fake editorUrl to a user.
const PUBLISHER_ROLES = ['sessions-api-', 'sessions-task-state-', 'sessions-reaper-'];
const HEX = '0123456789abcdef';

export function request(ctx) {
  if (!isPublisherRole(requireIamRole(ctx))) util.unauthorized();
  return { payload: ctx.args.input };
}

// arn:<partition>:sts::<account>:assumed-role/<role>/<session>, <role> one of PUBLISHER_ROLES + 7 hex.
function isPublisherRole(arn) {
  const parts = arn.split(':assumed-role/');
  if (parts.length !== 2 || !parts[0].startsWith('arn:aws') || parts[0].split(':')[2] !== 'sts') return false;
  const role = parts[1].split('/')[0];
  const prefix = PUBLISHER_ROLES.find((p) => role.startsWith(p));
  if (!prefix || role.length !== prefix.length + 7) return false;
  return role.slice(prefix.length).split('').every((c) => HEX.indexOf(c) !== -1);
}

export function response(ctx) {
  return ctx.result;
}
