import { util } from '@aws-appsync/utils';
import { callerSub } from './lib/auth.js';
import { updateFields } from './lib/fields.js';

// Editable profile fields. email and role mirror Cognito attributes and stay the trigger's business.
const FIELDS = { displayName: { maxLength: 100 } };

// The key is the caller's own sub, so a profile can only ever be updated by its owner. The condition
// stops the update from creating a profile the post-confirmation trigger never wrote.
export function request(ctx) {
  const sub = callerSub(ctx);
  return updateFields(sub, ctx.args.input, FIELDS, { expression: 'attribute_exists(#id)', expressionNames: { '#id': 'id' } });
}

export function response(ctx) {
  if (ctx.error) {
    if (ctx.error.type === 'DynamoDB:ConditionalCheckFailedException') {
      util.error('No profile exists for the caller yet', 'NotFound');
    }
    util.error(ctx.error.message, ctx.error.type);
  }
  return ctx.result;
}
