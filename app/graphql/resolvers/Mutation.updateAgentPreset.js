import { callerSub } from './lib/auth.js';
import { updateFields } from './lib/fields.js';
import { PRESET_FIELDS } from './lib/presets.js';
import { ownerCondition, ownerWriteResult } from './lib/writes.js';

// Owner, or ADMIN on any preset; enforced by the write's own condition.
export function request(ctx) {
  callerSub(ctx);
  return updateFields(ctx.args.input.id, ctx.args.input, PRESET_FIELDS, ownerCondition(ctx));
}

export function response(ctx) {
  return ownerWriteResult(ctx, 'Agent preset');
}
