import { util } from '@aws-appsync/utils';
import { callerSub } from './lib/auth.js';
import { withFields } from './lib/fields.js';
import { MESSAGE_FIELDS } from './lib/messages.js';

// Pipeline: touchOwnedConversation (ownership check + updatedAt bump, one conditional write) ->
// putMessage. This step validates the input and builds the message, so both writes share one clock.
export function request(ctx) {
  const sub = callerSub(ctx);
  const input = ctx.args.input;
  const now = util.time.nowISO8601();
  const message = withFields({ id: util.autoId(), owner: sub, role: input.role, createdAt: now, updatedAt: now }, input, MESSAGE_FIELDS);
  ctx.stash.owner = sub;
  ctx.stash.now = now;
  ctx.stash.message = message;
  return {};
}

export function response(ctx) {
  return ctx.prev.result;
}
