import { util } from '@aws-appsync/utils';

const FIELDS = {
  name: { required: true, maxLength: 100 },
  description: { maxLength: 1000 },
  configs: { required: true, maxJsonLength: 65536 },
  isDefault: { required: true },
  visibility: { required: true },
  tags: { required: true, maxItems: 20, itemMaxLength: 50 },
};

// Owner, or ADMIN on any preset; enforced by the write's own condition.
export function request(ctx) {
  if (!ctx.identity?.sub) util.unauthorized();
  const input = ctx.args.input;
  return {
    operation: 'UpdateItem',
    key: util.dynamodb.toMapValues({ id: input.id }),
    update: updateExpression(input, FIELDS, util.time.nowISO8601()),
    condition: ownerCondition(ctx),
  };
}

export function response(ctx) {
  if (ctx.error) {
    if (ctx.error.type === 'DynamoDB:ConditionalCheckFailedException') notFoundOrUnauthorized(ctx);
    util.error(ctx.error.message, ctx.error.type);
  }
  return ctx.result;
}

// ADMIN may change any existing preset; everyone else only their own.
function ownerCondition(ctx) {
  if (isAdmin(ctx)) return { expression: 'attribute_exists(#id)', expressionNames: { '#id': 'id' } };
  return {
    expression: 'attribute_exists(#id) AND #owner = :owner',
    expressionNames: { '#id': 'id', '#owner': 'owner' },
    expressionValues: util.dynamodb.toMapValues({ ':owner': ctx.identity.sub }),
  };
}

// For ADMIN a failed condition can only mean "missing"; for anyone else it may mean "not yours",
// and the answer must not reveal that the id exists.
function notFoundOrUnauthorized(ctx) {
  if (isAdmin(ctx)) util.error(`Agent preset ${ctx.args.id ?? ctx.args.input.id} not found`, 'NotFound');
  util.unauthorized();
}

function isAdmin(ctx) {
  const groups = ctx.identity?.groups ?? ctx.identity?.claims?.['cognito:groups'] ?? [];
  return groups.indexOf('ADMIN') !== -1;
}

// SET the given whitelisted fields (explicit null REMOVEs an optional one) plus updatedAt.
// Fields outside `fields` (id, owner, createdAt, ...) can never be written this way.
function updateExpression(input, fields, now) {
  const names = { '#updatedAt': 'updatedAt' };
  const values = { ':updatedAt': now };
  const sets = ['#updatedAt = :updatedAt'];
  const removes = [];
  for (const name of Object.keys(fields)) {
    if (Object.hasOwn(input, name)) {
      checkField(name, input[name], fields[name]);
      names[`#${name}`] = name;
      if (input[name] === null) {
        removes.push(`#${name}`);
      } else {
        values[`:${name}`] = input[name];
        sets.push(`#${name} = :${name}`);
      }
    }
  }
  if (sets.length === 1 && removes.length === 0) {
    util.error(`input names no field to update (one of: ${Object.keys(fields).join(', ')})`, 'BadRequest');
  }
  const remove = removes.length ? ` REMOVE ${removes.join(', ')}` : '';
  return {
    expression: `SET ${sets.join(', ')}${remove}`,
    expressionNames: names,
    expressionValues: util.dynamodb.toMapValues(values),
  };
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
