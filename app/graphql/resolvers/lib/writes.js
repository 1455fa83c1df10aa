import { util } from '@aws-appsync/utils';
import { isAdmin } from './auth.js';

// PutItem of a new item under a fresh id; the condition makes an id collision fail instead of overwrite.
export function putNew(item) {
  return {
    operation: 'PutItem',
    key: util.dynamodb.toMapValues({ id: util.autoId() }),
    attributeValues: util.dynamodb.toMapValues(item),
    condition: { expression: 'attribute_not_exists(#id)', expressionNames: { '#id': 'id' } },
  };
}

// The write's condition: the item exists and belongs to `sub`, checked atomically with the write.
export function ownedBy(sub) {
  return {
    expression: 'attribute_exists(#id) AND #owner = :owner',
    expressionNames: { '#id': 'id', '#owner': 'owner' },
    expressionValues: util.dynamodb.toMapValues({ ':owner': sub }),
  };
}

// ADMIN may change any existing item; everyone else only their own.
export function ownerCondition(ctx) {
  if (isAdmin(ctx)) return { expression: 'attribute_exists(#id)', expressionNames: { '#id': 'id' } };
  return ownedBy(ctx.identity.sub);
}

// The result of a write guarded by ownerCondition. A failed condition, for ADMIN, can only mean
// "missing"; for anyone else it may mean "not yours", and the answer must not reveal that the id
// exists. `what` names the model in the NotFound message.
export function ownerWriteResult(ctx, what) {
  if (ctx.error) {
    if (ctx.error.type === 'DynamoDB:ConditionalCheckFailedException') {
      if (isAdmin(ctx)) util.error(`${what} ${ctx.args.id ?? ctx.args.input.id} not found`, 'NotFound');
      util.unauthorized();
    }
    util.error(ctx.error.message, ctx.error.type);
  }
  return ctx.result;
}
