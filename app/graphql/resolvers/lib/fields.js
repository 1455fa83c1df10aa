import { util } from '@aws-appsync/utils';

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

// A new item: every whitelisted field checked, the given (non-null) ones copied onto `item`, which
// holds what the server sets. Fields outside `fields` never reach the item.
export function withFields(item, input, fields) {
  for (const name of Object.keys(fields)) {
    checkField(name, input[name], fields[name]);
    if (input[name] !== undefined && input[name] !== null) item[name] = input[name];
  }
  return item;
}

// UpdateItem of item `id` under `condition`: SET the given whitelisted fields (explicit null REMOVEs an
// optional one) plus updatedAt. Fields outside `fields` (id, owner, createdAt, ...) can never be
// written this way.
export function updateFields(id, input, fields, condition) {
  return {
    operation: 'UpdateItem',
    key: util.dynamodb.toMapValues({ id }),
    update: updateExpression(input, fields, util.time.nowISO8601()),
    condition,
  };
}

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
