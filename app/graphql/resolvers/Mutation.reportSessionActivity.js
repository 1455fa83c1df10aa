import { util } from '@aws-appsync/utils';

// IAM callers only (the session task's role; the Sessions Lambda checks the role and that the role
// session is the session's own task). Cognito users and federated identities are refused here.
// The Lambda receives exactly {arguments: {id}, identity: {userArn}, info}.
export function request(ctx) {
  if (!ctx.identity?.userArn || ctx.identity.cognitoIdentityId || ctx.identity.sub) util.unauthorized();
  return {
    operation: 'Invoke',
    payload: {
      arguments: { id: ctx.args.id },
      identity: { userArn: ctx.identity.userArn },
      info: { fieldName: ctx.info.fieldName, parentTypeName: ctx.info.parentTypeName },
    },
  };
}

export function response(ctx) {
  if (ctx.error) util.error('The sessions service failed unexpectedly; try again later.', 'InternalError');
  const result = ctx.result;
  if (result && Object.hasOwn(result, 'error')) {
    // Only the Lambda's vetted Forbidden text passes; anything else is a bug and stays generic.
    const forbidden = result.error?.type === 'Forbidden' && typeof result.error.message === 'string';
    if (forbidden) util.error(result.error.message, 'Forbidden');
    util.error('The sessions service failed unexpectedly; try again later.', 'InternalError');
  }
  return result === true;
}
