import { util } from '@aws-appsync/utils';
import { callerSub } from './lib/auth.js';
import { updateFields } from './lib/fields.js';
import { ownedBy } from './lib/writes.js';

const FIELDS = {
  title: { required: true, maxLength: 200 },
  agentPresetId: {},
  status: { required: true },
  metadata: { maxJsonLength: 16384 },
};

// Owner only (ADMIN reads conversations but does not rewrite them). Ownership is part of the write's
// condition, so there is no read-then-write race.
export function request(ctx) {
  const sub = callerSub(ctx);
  return updateFields(ctx.args.input.id, ctx.args.input, FIELDS, ownedBy(sub));
}

// A failed condition means "missing or not yours": both answer Unauthorized so ids do not leak.
export function response(ctx) {
  if (ctx.error) {
    if (ctx.error.type === 'DynamoDB:ConditionalCheckFailedException') util.unauthorized();
    util.error(ctx.error.message, ctx.error.type);
  }
  return ctx.result;
}
