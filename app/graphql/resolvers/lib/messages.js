// Message input rules (createMessage, recordAgentReply). Together these stay under DynamoDB's 400 KB
// item limit.
export const MESSAGE_FIELDS = {
  content: { required: true, maxLength: 100000 },
  agentResponses: { maxJsonLength: 120000 },
  judgeResponse: { maxJsonLength: 60000 },
  traceId: { maxLength: 128 },
  executionTimeMs: { min: 0 },
};

// An agent reply always carries its trace id and timing.
export const REPLY_FIELDS = {
  ...MESSAGE_FIELDS,
  owner: { required: true, maxLength: 128 },
  traceId: { required: true, maxLength: 128 },
  executionTimeMs: { required: true, min: 0 },
};

// One DynamoDB batch write takes at most 25 items, so a reply records at most 25 steps.
export const MAX_STEPS = 25;

export const STEP_FIELDS = {
  agentId: { required: true, maxLength: 64 },
  action: { required: true, maxLength: 200 },
  toolsUsed: { maxItems: 20, itemMaxLength: 100 },
  citations: { maxItems: 50, itemMaxLength: 2000 },
  duration: { required: true, min: 0 },
  errorCount: { min: 0 },
  metadata: { maxJsonLength: 16384 },
  timestamp: { required: true },
};
