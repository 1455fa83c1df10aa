import { util } from '@aws-appsync/utils';
import { isAdmin } from './lib/auth.js';

// ADMIN only. Cognito keeps e-mails unique, so the byEmail index holds at most one profile per address.
export function request(ctx) {
  if (!isAdmin(ctx)) util.unauthorized();
  return {
    operation: 'Query',
    index: 'byEmail',
    query: {
      expression: '#email = :email',
      expressionNames: { '#email': 'email' },
      expressionValues: util.dynamodb.toMapValues({ ':email': ctx.args.email }),
    },
    limit: 1,
  };
}

export function response(ctx) {
  if (ctx.error) util.error(ctx.error.message, ctx.error.type);
  return ctx.result.items[0] ?? null;
}
