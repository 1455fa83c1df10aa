import { util } from '@aws-appsync/utils';

// A batch must name its table. The API component replaces this token with the physical name of this
// function's data-source table (components/api.py), the only table the data source's role may write.
const TABLE = '__DATA_SOURCE_TABLE__';

// Pipeline step: every trace step of the reply (built and validated by the resolver) in one batch.
export function request(ctx) {
  const tables = {};
  tables[TABLE] = ctx.stash.steps.map((step) => util.dynamodb.toMapValues(step));
  return { operation: 'BatchPutItem', tables };
}

// A partly written batch is an error, so the runtime retries and no message points at missing steps.
export function response(ctx) {
  if (ctx.error) util.error(ctx.error.message, ctx.error.type);
  const unprocessed = ctx.result.unprocessedItems?.[TABLE] ?? [];
  if (unprocessed.length > 0) util.error(`${unprocessed.length} trace steps were not written; retry the reply`, 'TraceStepsNotWritten');
  return ctx.prev.result;
}
