import { util } from '@aws-appsync/utils';
import { callerSub } from './lib/auth.js';
import { withFields } from './lib/fields.js';
import { PRESET_FIELDS } from './lib/presets.js';
import { putNew } from './lib/writes.js';

const DEFAULTS = { isDefault: false, visibility: 'PRIVATE', tags: [] };

// id, owner and both timestamps are the server's.
export function request(ctx) {
  const sub = callerSub(ctx);
  const input = { ...DEFAULTS, ...ctx.args.input };
  const now = util.time.nowISO8601();
  return putNew(withFields({ owner: sub, createdAt: now, updatedAt: now }, input, PRESET_FIELDS));
}

export function response(ctx) {
  if (ctx.error) util.error(ctx.error.message, ctx.error.type);
  return ctx.result;
}
