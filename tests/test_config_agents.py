"""aiplatform:agents: the switch, models (and where a cross-Region profile may run), the per-user
cap, memory retention, guardrail and alarms; every bad value fails with one line naming the key."""

from __future__ import annotations

import json

import pytest

from components import config
from tests.test_config import _with
from tools import program


def _agents(**values):
    """dev's agents section with values replaced (a__b for nested keys; ... deletes a key)."""
    return _with("agents", **values)["agents"]


def _parse(section, region=None):
    raw, secrets = program.stack_config("dev")
    raw["aiplatform:agents"] = json.dumps(section)
    if region:
        raw["aws:region"] = region
    return config.parse(raw, "dev", secrets)


BAD = [
    (_agents(enabled=...), "agents.enabled is required"),
    ({"enabled": False, "image": "ecr:1"}, "agents.image only applies when agents.enabled is true"),
    (_agents(image="magi:latest"), "agents.image must be ecr:<tag>"),
    (_agents(image="ecr:-bad"), "agents.image must be ecr:<tag>"),
    (_agents(models__melchior=...), "agents.models.melchior is required"),
    (_agents(models__gaspar="amazon.nova-micro-v1:0"), "agents.models.gaspar is not a known setting"),
    (_agents(models__caspar="claude"), "agents.models.caspar must be a Bedrock foundation-model id"),
    (_agents(models__caspar="ca.anthropic.claude-3-haiku-20240307-v1:0"),
     "agents.models.caspar is a ca. inference profile, whose destination Regions this project does not know: "
     "list them under agents.profileRegions.ca"),
    (_agents(models__caspar="eu.anthropic.claude-3-haiku-20240307-v1:0"),
     "agents.models.caspar is a eu. cross-Region inference profile, which cannot be invoked from us-east-1"),
    (_agents(profileRegions={"global": ["us-east-1"]}), "agents.profileRegions.global must be a geographic"),
    (_agents(profileRegions={"us": []}), "agents.profileRegions.us must have between 1 and 30 entries"),
    (_agents(dailyInvocationsPerUser=...), "agents.dailyInvocationsPerUser is required"),
    (_agents(dailyInvocationsPerUser=0), "agents.dailyInvocationsPerUser must be between 1 and 10000, got 0"),
    (_agents(memory__eventExpiryDays=...), "agents.memory.eventExpiryDays is required"),
    (_agents(memory__eventExpiryDays=3), "agents.memory.eventExpiryDays must be between 7 and 365, got 3"),
    (_agents(guardrail=...), "agents.guardrail is required"),
    (_agents(guardrail={"enabled": True, "promptAttackStrength": "HIGH"}),
     "agents.guardrail.contentFilterStrength is required"),
    (_agents(guardrail={"enabled": True, "contentFilterStrength": "MAX", "promptAttackStrength": "HIGH"}),
     "agents.guardrail.contentFilterStrength must be one of LOW, MEDIUM, HIGH, got 'MAX'"),
    (_agents(guardrail={"enabled": True, "contentFilterStrength": "LOW", "promptAttackStrength": "LOW",
                        "blockedMessage": "x" * 501}), "agents.guardrail.blockedMessage must be at most 500"),
    (_agents(guardrail={"enabled": False, "contentFilterStrength": "HIGH"}),
     "agents.guardrail.contentFilterStrength only applies when agents.guardrail.enabled is true"),
    (_agents(endpointName="DEFAULT"), "agents.endpointName must not be DEFAULT"),
    (_agents(endpointName="live-1"), "agents.endpointName must be an AgentCore endpoint name"),
    (_agents(lifecycle={"idleSessionTimeoutSeconds": 30}),
     "agents.lifecycle.idleSessionTimeoutSeconds must be between 60 and 1209600, got 30"),
    (_agents(lifecycle={"idleSessionTimeoutSeconds": 7200, "maxLifetimeSeconds": 3600}),
     "agents.lifecycle.idleSessionTimeoutSeconds must not exceed lifecycle.maxLifetimeSeconds (3600), got 7200"),
    (_agents(alarms__errors={"threshold": 0}), "agents.alarms.errors.threshold must be between 1 and 1e+06, got 0"),
    (_agents(alarms__latencyP95Ms={"threshold": 1000, "periodSeconds": 90}),
     "agents.alarms.latencyP95Ms.periodSeconds must be a multiple of 60"),
    (_agents(alarm={}), "agents.alarm is not a known setting"),
]


@pytest.mark.parametrize("section, message", BAD)
def test_bad_agents_config_fails_with_one_specific_line(section, message):
    with pytest.raises(config.ConfigError) as err:
        _parse(section)
    text = str(err.value)
    assert text.startswith("Pulumi.dev.yaml: ") and "\n" not in text
    assert message in text


def test_the_section_is_required_with_an_explicit_switch():
    raw, secrets = program.stack_config("dev")
    del raw["aiplatform:agents"]
    with pytest.raises(config.ConfigError, match="agents is required"):
        config.parse(raw, "dev", secrets)
    assert _parse({"enabled": False}).agents is None


def test_both_stacks_run_agents_with_prod_guarded():
    def stack(name):
        raw, secrets = program.stack_config(name)
        return config.parse(raw, name, secrets)

    dev, prod = stack("dev"), stack("prod")
    assert dev.agents.guardrail is None
    assert prod.agents.guardrail == config.GuardrailConfig(content_filter_strength="HIGH", prompt_attack_strength="HIGH")
    assert set(dev.agents.models) == set(prod.agents.models) == set(config.AGENT_ROLES)
    assert dev.agents.image_tag == "0.1.0"


def test_models_foundation_geographic_and_global():
    cfg = _parse(_agents(models={
        "solomon": "anthropic.claude-3-haiku-20240307-v1:0",
        "caspar": "us.amazon.nova-micro-v1:0",
        "balthasar": "global.anthropic.claude-sonnet-4-5-20250929-v1:0",
        "melchior": "anthropic.claude-v2:1:200k"})).agents
    m = cfg.models
    assert m["solomon"] == config.AgentModel(id="anthropic.claude-3-haiku-20240307-v1:0",
                                             model_id="anthropic.claude-3-haiku-20240307-v1:0")
    assert not m["solomon"].is_profile and not m["melchior"].is_profile
    assert m["caspar"].model_id == "amazon.nova-micro-v1:0"
    assert m["caspar"].profile_regions == config.INFERENCE_PROFILE_REGIONS["us"]
    assert m["balthasar"].profile_regions == ("*",) and m["balthasar"].model_id.startswith("anthropic.")


def test_profile_regions_override_the_table_for_this_stack():
    section = _agents(models__caspar="eu.amazon.nova-micro-v1:0", profileRegions={"eu": ["eu-west-1", "eu-west-3"]})
    for role in ("solomon", "balthasar", "melchior"):
        section["models"][role] = "amazon.nova-micro-v1:0"
    cfg = _parse(section, region="eu-west-1").agents
    assert cfg.models["caspar"].profile_regions == ("eu-west-1", "eu-west-3")
    # A geography the table does not know becomes usable once its Regions are listed.
    section["models"]["caspar"] = "ca.amazon.nova-micro-v1:0"
    section["profileRegions"] = {"ca": ["eu-west-1", "ca-central-1"]}
    assert _parse(section, region="eu-west-1").agents.models["caspar"].profile_regions == ("eu-west-1", "ca-central-1")


def test_defaults_that_cost_nothing_and_alarm_defaults():
    section = _agents(ecr=..., lifecycle=..., alarms=..., endpointName=...)
    cfg = _parse(section).agents
    assert (cfg.endpoint_name, cfg.ecr_keep_images) == ("live", 10)
    assert (cfg.idle_session_timeout_seconds, cfg.max_lifetime_seconds) == (900, 28800)
    assert cfg.alarm_errors.enabled and cfg.alarm_throttles.enabled and cfg.alarm_latency_p95_ms.enabled
