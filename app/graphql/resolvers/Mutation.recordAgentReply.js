import { util } from '@aws-appsync/utils';
import { requireIamRole } from './lib/auth.js';
import { withFields } from './lib/fields.js';
import { MAX_STEPS, REPLY_FIELDS, STEP_FIELDS } from './lib/messages.js';

// Pipeline: touchOwnedConversation (the conversation belongs to input.owner; one conditional write)
// -> putTraceSteps (one batch) -> putMessage. Steps go first: if their batch fails no message exists,
// so the runtime may retry the whole call; the message write then makes the reply visible and fans it
// out to onMessageCreated. Only an IAM role may call this (the schema says @aws_iam; the agent
// runtime's role alone is granted the field), and the check here refuses any other identity too.
export function request(ctx) {
  requireIamRole(ctx);
  const input = ctx.args.input;
  const now = util.time.nowISO8601();
  const message = withFields({ id: util.autoId(), role: 'ASSISTANT', createdAt: now, updatedAt: now }, input, REPLY_FIELDS);
  ctx.stash.owner = message.owner;
  ctx.stash.now = now;
  ctx.stash.message = message;
  ctx.stash.steps = traceSteps(input, message);
  return {};
}

export function response(ctx) {
  return ctx.prev.result;
}

function traceSteps(input, message) {
  const steps = input.steps;
  if (steps.length < 1 || steps.length > MAX_STEPS) util.error(`steps must hold 1-${MAX_STEPS} entries, got ${steps.length}`, 'BadRequest');
  const seen = {};
  return steps.map((step) => {
    const number = `${step.stepNumber}`;
    if (step.stepNumber < 1) util.error(`stepNumber must be at least 1, got ${number}`, 'BadRequest');
    if (Object.hasOwn(seen, number)) util.error(`stepNumber ${number} appears twice`, 'BadRequest');
    seen[number] = true;
    // The id follows from the key (one step number per message), so a step has exactly one id.
    const item = {
      id: `${message.id}-${number}`, messageId: message.id, conversationId: input.conversationId, owner: message.owner,
      traceId: message.traceId, stepNumber: step.stepNumber, toolsUsed: [], citations: [], errorCount: 0,
    };
    return withFields(item, step, STEP_FIELDS);
  });
}
