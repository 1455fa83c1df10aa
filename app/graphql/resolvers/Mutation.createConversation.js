import { util } from '@aws-appsync/utils';
import { callerSub } from './lib/auth.js';
import { withFields } from './lib/fields.js';
import { putNew } from './lib/writes.js';

const FIELDS = {
  title: { required: true, maxLength: 200 },
  agentPresetId: {},
  metadata: { maxJsonLength: 16384 },
};

// id, owner, status and both timestamps are the server's; the client supplies content only.
export function request(ctx) {
  const sub = callerSub(ctx);
  const now = util.time.nowISO8601();
  return putNew(withFields({ owner: sub, status: 'ACTIVE', createdAt: now, updatedAt: now }, ctx.args.input, FIELDS));
}

export function response(ctx) {
  if (ctx.error) util.error(ctx.error.message, ctx.error.type);
  return ctx.result;
}
