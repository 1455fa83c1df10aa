"""Start-up settings and prompts: every bad value is one clear line naming it, never a default."""

from __future__ import annotations

import json

import pytest
import yaml

from app.agents.config import ConfigError, Guardrail, load_settings
from app.agents.main import main
from app.agents.prompts import PROMPTS_PATH, SAGE_IDS, load_prompts

MODELS = {"solomon": "us.anthropic.claude-sonnet-4-5-20250929-v1:0", "caspar": "amazon.nova-pro-v1:0",
          "balthasar": "us.amazon.nova-lite-v1:0", "melchior": "anthropic.claude-3-5-haiku-20241022-v1:0"}
ENV = {
    "AGENT_MODELS": json.dumps(MODELS), "AGENT_GUARDRAIL_ID": "", "AGENT_GUARDRAIL_VERSION": "",
    "AGENT_MEMORY_ID": "magi_memory-Ab12Cd34Ef", "AGENT_USAGE_TABLE": "data-agentUsage-1a2b3c4",
    "AGENT_DAILY_INVOCATION_LIMIT": "50", "GRAPHQL_URL": "https://abc.appsync-api.us-east-1.amazonaws.com/graphql",
    "AWS_REGION": "us-east-1",
}


def test_a_complete_environment_loads():
    s = load_settings(ENV)
    assert s.models == MODELS and s.guardrail is None and s.daily_invocation_limit == 50
    assert load_settings({**ENV, "AGENT_GUARDRAIL_ID": "gr1abc", "AGENT_GUARDRAIL_VERSION": "DRAFT"}).guardrail == \
        Guardrail("gr1abc", "DRAFT")
    arn = "arn:aws:bedrock-agentcore:us-east-1:123456789012:memory/magi_memory-Ab12Cd34Ef"
    assert load_settings({**ENV, "AGENT_MEMORY_ID": arn}).memory_id == arn


@pytest.mark.parametrize("change,message", [
    ({"AGENT_MODELS": None}, "error: AGENT_MODELS is not set"),
    ({"AWS_REGION": None}, "error: AWS_REGION is not set"),
    ({"AGENT_MODELS": "{solomon"}, "error: AGENT_MODELS must be a JSON object of agent id to model id, got invalid JSON"),
    ({"AGENT_MODELS": "[]"}, "error: AGENT_MODELS must be a JSON object of agent id to model id, got list"),
    ({"AGENT_MODELS": json.dumps({**MODELS, "gaspard": "x"})}, "must name exactly solomon, caspar, balthasar, melchior"),
    ({"AGENT_MODELS": json.dumps({**MODELS, "caspar": "has space"})}, "caspar must be a Bedrock model or inference profile id"),
    ({"AGENT_GUARDRAIL_ID": "gr1abc"}, "error: AGENT_GUARDRAIL_VERSION must be set together with the other"),
    ({"AGENT_GUARDRAIL_VERSION": "1"}, "error: AGENT_GUARDRAIL_ID must be set together with the other"),
    ({"AGENT_GUARDRAIL_ID": "gr1abc", "AGENT_GUARDRAIL_VERSION": "v1"}, "AGENT_GUARDRAIL_VERSION must be DRAFT or a version"),
    ({"AGENT_GUARDRAIL_ID": "Bad Id", "AGENT_GUARDRAIL_VERSION": "1"}, "AGENT_GUARDRAIL_ID must be a Bedrock guardrail id"),
    ({"AGENT_MEMORY_ID": "memory"}, "error: AGENT_MEMORY_ID must be an AgentCore memory id"),
    ({"AGENT_USAGE_TABLE": " "}, "error: AGENT_USAGE_TABLE is empty"),
    ({"AGENT_DAILY_INVOCATION_LIMIT": "0"}, "must be a whole number from 1 to 1000000, got '0'"),
    ({"AGENT_DAILY_INVOCATION_LIMIT": "ten"}, "must be a whole number from 1 to 1000000, got 'ten'"),
    ({"GRAPHQL_URL": "http://abc.appsync-api.us-east-1.amazonaws.com/graphql"}, "GRAPHQL_URL must be the AppSync https"),
    ({"AWS_REGION": "mars"}, "error: AWS_REGION must be an AWS region such as us-east-1, got 'mars'"),
])
def test_bad_settings_fail_with_one_line_naming_the_variable(change, message):
    env = {k: v for k, v in {**ENV, **change}.items() if v is not None}
    with pytest.raises(ConfigError) as err:
        load_settings(env)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_the_container_entry_stops_with_one_line_and_no_traceback(capsys):
    env = {k: v for k, v in ENV.items() if k != "AGENT_MEMORY_ID"}
    assert main(env) == 2
    out = capsys.readouterr()
    assert out.err == "error: AGENT_MEMORY_ID is not set (the agents component sets every AGENT_* variable, " \
                      "GRAPHQL_URL and AWS_REGION)\n"
    assert out.out == ""


def test_the_shipped_prompts_give_each_sage_its_disposition():
    prompts = load_prompts()
    assert [(s.id, s.name, s.disposition) for s in prompts.sages] == [
        ("caspar", "CASPAR", "conservative"), ("balthasar", "BALTHASAR", "innovative"), ("melchior", "MELCHIOR", "balanced")]
    assert tuple(s.id for s in prompts.sages) == SAGE_IDS
    assert len({s.prompt for s in prompts.sages}) == 3, "three different dispositions, three different prompts"
    assert prompts.quorum == 2 and prompts.sage_timeout > 0 and prompts.judge_timeout > 0


@pytest.mark.parametrize("edit,message", [
    (lambda d: d["sages"].pop(), "sages must be caspar, balthasar, melchior in this order, got caspar, balthasar"),
    (lambda d: d["sages"][1].update(prompt=" "), "sages[1].prompt must be non-empty text"),
    (lambda d: d.update(quorum=4), "quorum must be a whole number from 1 to 3, got 4"),
    (lambda d: d["timeouts"].update(sageSeconds=0), "timeouts.sageSeconds must be a number of seconds above 0"),
    (lambda d: d["judge"].update(id="salomon"), "judge.id must be solomon"),
    (lambda d: d["judge"].update(request="Question only"), "judge.request must contain {question}, {decision}"),
    (lambda d: d["messages"].update(noQuorum="No."), "messages.noQuorum must contain {quorum}"),
])
def test_bad_prompt_files_fail_with_the_key_named(tmp_path, edit, message):
    data = yaml.safe_load(PROMPTS_PATH.read_text())
    edit(data)
    path = tmp_path / "magi.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError) as err:
        load_prompts(path)
    assert str(err.value).startswith(f"error: magi.yaml: {message}")
    path.write_text("sages: [")
    with pytest.raises(ConfigError, match="^error: magi.yaml is not valid YAML"):
        load_prompts(path)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_environment_the_agents_component_sets_loads(stack):
    """The contract from the other side: what components/agents.py puts in the runtime's environment
    (from each stack's config; AgentCore adds AWS_REGION) is accepted as it is."""
    from components import agents as agents_component
    from components import config as platform_config
    from tools import program

    raw, secrets = program.stack_config(stack)
    cfg = platform_config.parse(raw, stack, secrets)
    assert cfg.agents is not None, f"{stack} enables the agents"
    guardrail = ("gr1abc2def3", "1") if cfg.agents.guardrail is not None else (None, None)
    env = agents_component.environment(
        cfg.agents, stack, memory_id=f"aiplatform_{stack}_magi_memory-Ab12Cd34Ef", usage_table="data-agentUsage-1a2b3c4",
        graphql_url="https://abc.appsync-api.us-east-1.amazonaws.com/graphql",
        guardrail_id=guardrail[0], guardrail_version=guardrail[1])
    settings = load_settings({**env, "AWS_REGION": cfg.region})
    assert settings.models == {role: m.id for role, m in cfg.agents.models.items()}
    assert settings.daily_invocation_limit == cfg.agents.daily_invocations_per_user
    assert (settings.guardrail is None) == (cfg.agents.guardrail is None)
