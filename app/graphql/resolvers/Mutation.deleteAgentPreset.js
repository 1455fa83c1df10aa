import { util } from '@aws-appsync/utils';

// Owner, or ADMIN on any preset; enforced by the delete's own condition. Returns the deleted preset.
export function request(ctx) {
  if (!ctx.identity?.sub) util.unauthorized();
  return {
    operation: 'DeleteItem',
    key: util.dynamodb.toMapValues({ id: ctx.args.id }),
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
