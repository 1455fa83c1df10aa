import { util } from '@aws-appsync/utils';
import { callerSub } from './lib/auth.js';
import { ownerCondition, ownerWriteResult } from './lib/writes.js';

// Owner, or ADMIN on any preset; enforced by the delete's own condition. Returns the deleted preset.
export function request(ctx) {
  callerSub(ctx);
  return {
    operation: 'DeleteItem',
    key: util.dynamodb.toMapValues({ id: ctx.args.id }),
    condition: ownerCondition(ctx),
  };
}

export function response(ctx) {
  return ownerWriteResult(ctx, 'Agent preset');
}
