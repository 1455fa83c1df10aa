import { util } from '@aws-appsync/utils';

// Together these stay under DynamoDB's 400 KB item limit.
const FIELDS = {
  content: { required: true, maxLength: 100000 },
  agentResponses: { maxJsonLength: 120000 },
  judgeResponse: { maxJsonLength: 60000 },
  traceId: { maxLength: 128 },
  executionTimeMs: { min: 0 },
};

// Pipeline: touchOwnedConversation (ownership check + updatedAt bump, one conditional write) ->
// putMessage. This step validates the input and builds the message, so both writes share one clock.
export function request(ctx) {
  const sub = ctx.identity?.sub;
  if (!sub) util.unauthorized();
  const input = ctx.args.input;
  const now = util.time.nowISO8601();
  const message = { id: util.autoId(), owner: sub, role: input.role, createdAt: now, updatedAt: now };
  for (const name of Object.keys(FIELDS)) {
    checkField(name, input[name], FIELDS[name]);
    if (input[name] !== undefined && input[name] !== null) message[name] = input[name];
  }
  ctx.stash.now = now;
  ctx.stash.message = message;
  return {};
}

export function response(ctx) {
  return ctx.prev.result;
}

// One input value against its rule (GraphQL has already checked its type).
function checkField(name, value, rule) {
  if (value === null || value === undefined) {
    if (rule.required) util.error(`${name} cannot be null`, 'BadRequest');
    return;
  }
  if (rule.maxLength !== undefined && (value.trim().length === 0 || value.length > rule.maxLength)) {
    util.error(`${name} must be 1-${rule.maxLength} characters and not blank`, 'BadRequest');
  }
  if (rule.maxJsonLength !== undefined && JSON.stringify(value).length > rule.maxJsonLength) {
    util.error(`${name} must serialize to at most ${rule.maxJsonLength} characters of JSON`, 'BadRequest');
  }
  if (rule.maxItems !== undefined) {
    if (value.length > rule.maxItems) util.error(`${name} takes at most ${rule.maxItems} entries`, 'BadRequest');
    for (const item of value) {
      if (item.trim().length === 0 || item.length > rule.itemMaxLength) {
        util.error(`every entry of ${name} must be 1-${rule.itemMaxLength} characters and not blank`, 'BadRequest');
      }
    }
  }
  if (rule.min !== undefined && value < rule.min) util.error(`${name} must be at least ${rule.min}`, 'BadRequest');
}
