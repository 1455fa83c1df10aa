// Stand-in for '@aws-appsync/utils' under Node (no npm): the subset of util / extensions our resolvers
// use, written to the AppSync JS reference. Anything a resolver reaches for that is not here fails
// loudly (a missing export is a link error), so a resolver cannot pass tests on an API we do not model.
// `control` is the harness's handle; resolvers never import it.
import { randomUUID } from 'node:crypto';

// What util.error / util.unauthorized raise: AppSync stops the field and reports this GraphQL error.
export class AppSyncError extends Error {
  constructor(message, errorType, data, errorInfo) {
    super(message);
    this.errorType = errorType;
    this.data = data ?? null;
    this.errorInfo = errorInfo ?? null;
  }
}

const state = { clock: null, ids: [], field: null, subscriptionFilter: undefined };

export const control = {
  // Per field execution: which field util.unauthorized names, and a clean filter slot.
  beginField(typeName, fieldName) {
    state.field = { typeName, fieldName };
    state.subscriptionFilter = undefined;
  },
  subscriptionFilter() {
    return state.subscriptionFilter;
  },
  // Deterministic time and ids for assertions; unset means the real clock / random UUIDs.
  setNow(iso) {
    state.clock = iso === null ? null : Date.parse(iso);
  },
  queueIds(...ids) {
    state.ids.push(...ids);
  },
  reset() {
    state.clock = null;
    state.ids = [];
    state.field = null;
    state.subscriptionFilter = undefined;
  },
};

function nowMs() {
  return state.clock ?? Date.now();
}

function toDynamoDB(value) {
  if (value === null) return { NULL: true };
  if (Array.isArray(value)) return { L: value.map(toDynamoDB) };
  switch (typeof value) {
    case 'string':
      return { S: value };
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError(`util.dynamodb: ${value} is not a DynamoDB number`);
      return { N: String(value) };
    case 'boolean':
      return { BOOL: value };
    case 'object':
      return { M: toMapValues(value) };
    default:
      // undefined (or a function) reaching DynamoDB is a resolver bug, not something to drop silently.
      throw new TypeError(`util.dynamodb: cannot convert a value of type ${typeof value}`);
  }
}

function toMapValues(object) {
  const out = {};
  for (const [key, value] of Object.entries(object)) out[key] = toDynamoDB(value);
  return out;
}

// https://docs.aws.amazon.com/appsync/latest/devguide/aws-appsync-real-time-enhanced-filtering.html
const FILTER_OPERATORS = new Set([
  'eq', 'ne', 'le', 'lt', 'ge', 'gt', 'contains', 'notContains', 'beginsWith', 'in', 'notIn', 'between',
  'containsAny',
]);

function checkFilterRule(fieldName, operator, value) {
  if (!FILTER_OPERATORS.has(operator)) throw new TypeError(`subscription filter: unknown operator ${operator} on ${fieldName}`);
  if (fieldName.length > 256) throw new TypeError(`subscription filter: field path longer than 256 characters`);
  if (value === undefined) throw new TypeError(`subscription filter: ${fieldName} ${operator} has no value`);
  if ((operator === 'in' || operator === 'notIn') && !(Array.isArray(value) && value.length <= 5)) {
    throw new TypeError(`subscription filter: ${operator} takes an array of at most 5 values`);
  }
  if (operator === 'containsAny' && !(Array.isArray(value) && value.length <= 20)) {
    throw new TypeError('subscription filter: containsAny takes an array of at most 20 values');
  }
  if (operator === 'between' && !(Array.isArray(value) && value.length === 2)) {
    throw new TypeError('subscription filter: between takes [low, high]');
  }
}

// {field: {op: value}, ...} (all AND-ed) -> {filterGroup: [{filters: [{fieldName, operator, value}]}]}.
// The `or`/`and` forms and the ignoredFields/rules arguments are not modelled: using them fails here.
function toSubscriptionFilter(objFilter, ignoredFields, rules) {
  if (ignoredFields !== undefined || rules !== undefined) {
    throw new TypeError('test runtime: toSubscriptionFilter ignoredFields/rules are not modelled');
  }
  const filters = [];
  for (const [fieldName, condition] of Object.entries(objFilter)) {
    if (fieldName === 'or' || fieldName === 'and') {
      throw new TypeError(`test runtime: toSubscriptionFilter '${fieldName}' groups are not modelled`);
    }
    if (condition === null || typeof condition !== 'object' || Array.isArray(condition)) {
      throw new TypeError(`subscription filter: ${fieldName} needs {operator: value}`);
    }
    for (const [operator, value] of Object.entries(condition)) {
      checkFilterRule(fieldName, operator, value);
      filters.push({ fieldName, operator, value });
    }
  }
  return { filterGroup: [{ filters }] };
}

export const util = {
  autoId() {
    return state.ids.length ? state.ids.shift() : randomUUID();
  },
  error(message, errorType, data, errorInfo) {
    throw new AppSyncError(message, errorType, data, errorInfo);
  },
  unauthorized() {
    const where = state.field ? `${state.field.fieldName} on type ${state.field.typeName}` : 'this field';
    throw new AppSyncError(`Not Authorized to access ${where}`, 'Unauthorized');
  },
  time: {
    // AppSync's format: UTC, milliseconds, trailing Z (e.g. 2018-02-06T19:01:35.749Z).
    nowISO8601() {
      return new Date(nowMs()).toISOString();
    },
    parseISO8601ToEpochMilliSeconds(text) {
      const ms = Date.parse(text);
      if (Number.isNaN(ms)) throw new AppSyncError(`Unable to parse ISO8601 date: ${text}`, 'DateTimeParseException');
      return ms;
    },
    epochMilliSecondsToISO8601(ms) {
      return new Date(ms).toISOString();
    },
  },
  dynamodb: { toDynamoDB, toMapValues },
  transform: { toSubscriptionFilter },
};

export const extensions = {
  setSubscriptionFilter(filter) {
    const groups = filter?.filterGroup;
    if (!Array.isArray(groups) || groups.length === 0 || groups.length > 10) {
      throw new TypeError('setSubscriptionFilter: filterGroup must hold 1-10 groups');
    }
    for (const group of groups) {
      if (!Array.isArray(group.filters) || group.filters.length === 0) {
        throw new TypeError('setSubscriptionFilter: every group needs filters');
      }
      for (const f of group.filters) checkFilterRule(f.fieldName, f.operator, f.value);
    }
    state.subscriptionFilter = filter;
  },
};
