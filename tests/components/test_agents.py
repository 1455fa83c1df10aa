"""Agents component under mocks: the AgentCore runtime (image, authorizer, environment contract),
endpoint, memory, guardrail, the runtime's log groups, and an execution role that may invoke exactly
the configured models and touch exactly its own resources (nothing on "*" beyond what AWS's IAM
dataset says has no resource type)."""

from __future__ import annotations

import dataclasses
import json
from urllib.parse import unquote

import pytest

from components import agents as ag
from components import config
from components import iam
from components.agents import Agents, AgentsArgs
from policies.iamlib import action_index
from tests.conftest import build
from tools.mocks import ACCOUNT_ID

REGION = "us-east-1"
POOL_ID = "us-east-1_AbCdEfGhI"
CLIENT_ID = "4tq0examplewebclient0000"
GRAPHQL_URL = "https://abcdefghijklmnopqrstuvwxyz.appsync-api.us-east-1.amazonaws.com/graphql"
GRAPHQL_API_ARN = f"arn:aws:appsync:us-east-1:{ACCOUNT_ID}:apis/abcdefghijklmnopqrstuvwxyz"
USAGE_TABLE = "agentUsage-9f8e7d6"
USAGE_TABLE_ARN = f"arn:aws:dynamodb:us-east-1:{ACCOUNT_ID}:table/{USAGE_TABLE}"

RUNTIME = "aws:bedrock/agentcoreAgentRuntime:AgentcoreAgentRuntime"
ENDPOINT = "aws:bedrock/agentcoreAgentRuntimeEndpoint:AgentcoreAgentRuntimeEndpoint"
MEMORY = "aws:bedrock/agentcoreMemory:AgentcoreMemory"
GUARDRAIL = "aws:bedrock/guardrail:Guardrail"
GUARDRAIL_VERSION = "aws:bedrock/guardrailVersion:GuardrailVersion"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
REPO = "aws:ecr/repository:Repository"
LIFECYCLE = "aws:ecr/lifecyclePolicy:LifecyclePolicy"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"


def _agents(cfg, opts, agents_cfg=None):
    return Agents("agents", AgentsArgs(
        config=agents_cfg or cfg.agents, stack=cfg.stack, region=cfg.region,
        log_retention_days=cfg.log_retention_days, user_pool_id=POOL_ID, user_pool_client_id=CLIENT_ID,
        graphql_url=GRAPHQL_URL, graphql_api_arn=GRAPHQL_API_ARN, usage_table_name=USAGE_TABLE,
        usage_table_arn=USAGE_TABLE_ARN), opts)


@pytest.fixture(scope="module", params=["dev", "prod"])
def built(request):
    monitor, _ = build(_agents, stack=request.param)
    return request.param, monitor


def _one(monitor, type_):
    regs = monitor.of_type(type_)
    assert len(regs) == 1, f"expected one {type_}, got {len(regs)}"
    return regs[0]


def _statements(monitor):
    """Every statement of the runtime role's inline policies, as AWS receives them."""
    out = []
    for reg in monitor.of_type(ROLE_POLICY):
        out += iam.statements(reg.plain_inputs["policy"])
    return out


def _granted(stmts, action):
    return sorted({r for s in stmts if action in s["Action"] for r in s["Resource"]})


def _cfg(stack):
    from tools import program
    raw, secrets = program.stack_config(stack)
    return config.parse(raw, stack, secrets)


def test_smoke(built):
    stack, monitor = built
    for r in monitor.of_type(RUNTIME) + monitor.of_type(ROLE_POLICY) + monitor.of_type(LOG_GROUP):
        print(r.name, json.dumps(r.plain_inputs, indent=1)[:3000])
    assert 0
