import { util } from '@aws-appsync/utils';
import { callerSub, isAdmin } from './lib/auth.js';

export function request(ctx) {
  callerSub(ctx);
  return { operation: 'GetItem', key: util.dynamodb.toMapValues({ id: ctx.args.id }) };
}

// Any signed-in user reads PUBLIC presets; PRIVATE ones only their owner and ADMIN.
export function response(ctx) {
  if (ctx.error) util.error(ctx.error.message, ctx.error.type);
  const preset = ctx.result;
  if (!preset) return null;
  if (preset.visibility !== 'PUBLIC' && preset.owner !== ctx.identity.sub && !isAdmin(ctx)) util.unauthorized();
  return preset;
}
