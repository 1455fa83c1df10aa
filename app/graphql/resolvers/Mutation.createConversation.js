import { util } from '@aws-appsync/utils';

const FIELDS = {
  title: { required: true, maxLength: 200 },
  agentPresetId: {},
  metadata: { maxJsonLength: 16384 },
};

// id, owner, status and both timestamps are the server's; the client supplies content only.
export function request(ctx) {
  const sub = ctx.identity?.sub;
  if (!sub) util.unauthorized();
  const input = ctx.args.input;
  const now = util.time.nowISO8601();
  const item = { owner: sub, status: 'ACTIVE', createdAt: now, updatedAt: now };
  for (const name of Object.keys(FIELDS)) {
    checkField(name, input[name], FIELDS[name]);
    if (input[name] !== undefined && input[name] !== null) item[name] = input[name];
  }
  return {
    operation: 'PutItem',
    key: util.dynamodb.toMapValues({ id: util.autoId() }),
    attributeValues: util.dynamodb.toMapValues(item),
    condition: { expression: 'attribute_not_exists(#id)', expressionNames: { '#id': 'id' } },
  };
}

export function response(ctx) {
  if (ctx.error) util.error(ctx.error.message, ctx.error.type);
  return ctx.result;
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
