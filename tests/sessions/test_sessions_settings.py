"""Settings.from_env: the env-var contract with the Sessions component."""

from __future__ import annotations

import json

import pytest

from app.sessions.settings import CapacityProviderItem, ConfigurationError, Settings

CLUSTER = "arn:aws:ecs:us-east-1:123456789012:cluster/sessions"

VALID = {
    "SESSIONS_TABLE": "sessions-dev",
    "CLUSTER_ARN": CLUSTER,
    "TASK_DEFINITION": "code-server",
    "CONTAINER_NAME": "editor",
    "SUBNETS": "subnet-0123456789abcdef0, subnet-0123456789abcdef1",
    "SECURITY_GROUPS": "sg-0123456789abcdef0",
    "ASSIGN_PUBLIC_IP": "ENABLED",
    "CAPACITY_PROVIDER_STRATEGY": json.dumps([{"capacityProvider": "FARGATE_SPOT", "weight": 3},
                                              {"capacityProvider": "FARGATE", "weight": 1, "base": 1}]),
    "MAX_SESSIONS_PER_USER": "2",
    "SIZE_PRESETS": json.dumps({"small": {"cpu": 1024, "memory": 2048}, "xl": {"cpu": "16384", "memory": "122880"}}),
    "DEFAULT_SIZE": "small",
    "EDITOR_ACCESS": "public",
    "LAUNCH_BUCKET": "sessions-launch-0123",
}


LISTENER = ("arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/sessions-editor-1a2b3c4/"
            "0123456789abcdef/fedcba9876543210")
PRIVATE = {"EDITOR_ACCESS": "private", "ASSIGN_PUBLIC_IP": None, "EDITOR_DOMAIN": "ide.example.com",
           "LISTENER_ARN": LISTENER, "VPC_ID": "vpc-0123456789abcdef0",
           "USER_POOL_ARN": "arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_AbCdEf123",
           "USER_POOL_CLIENT_ID": "4abcdefghijklmnopqrstu1234", "USER_POOL_DOMAIN": "aiplatform-dev"}
GITHUB = {"GITHUB_APP_ID": "123456", "GITHUB_APP_INSTALLATION_ID": "98765432",
          "GITHUB_APP_KEY_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:github-app-AbCdEf"}


def parse(**changes):
    env = {**VALID, **changes}
    return Settings.from_env({k: v for k, v in env.items() if v is not None})


def error_of(**changes) -> str:
    with pytest.raises(ConfigurationError) as info:
        parse(**changes)
    return str(info.value)


def test_valid_environment_parses_with_documented_defaults():
    s = parse()
    assert s.cluster_name == "sessions"
    assert s.task_family == "code-server"
    assert s.subnets == ("subnet-0123456789abcdef0", "subnet-0123456789abcdef1")
    assert s.capacity_provider_strategy == (CapacityProviderItem("FARGATE_SPOT", 3, 0),
                                            CapacityProviderItem("FARGATE", 1, 1))
    assert s.preset("xl").cpu == 16384 and s.preset("xl").memory == 122880
    assert (s.on_demand_fallback, s.restart_on_interruption) == (False, False)
    assert (s.session_ttl_hours, s.max_lifetime_hours, s.idle_timeout_minutes, s.editor_port) == (24, 8, 60, 8080)
    assert s.graphql_url is None and s.budget_deny_policy_arn is None


def test_task_definition_family_is_derived_from_revision_or_arn():
    assert parse(TASK_DEFINITION="code-server:7").task_family == "code-server"
    arn = "arn:aws:ecs:us-east-1:123456789012:task-definition/code-server:7"
    assert parse(TASK_DEFINITION=arn).task_family == "code-server"


@pytest.mark.parametrize("name", ["SESSIONS_TABLE", "CLUSTER_ARN", "TASK_DEFINITION", "CONTAINER_NAME", "SUBNETS",
                                  "SECURITY_GROUPS", "CAPACITY_PROVIDER_STRATEGY", "MAX_SESSIONS_PER_USER",
                                  "SIZE_PRESETS", "DEFAULT_SIZE", "EDITOR_ACCESS"])
def test_missing_required_variable_is_named(name):
    message = error_of(**{name: None})
    assert message.startswith(f"environment variable {name} is required")


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"CLUSTER_ARN": "sessions"}, "CLUSTER_ARN must be an ECS cluster ARN"),
        ({"SUBNETS": "subnet-0123456789abcdef0,vpc-123"}, "SUBNETS contains 'vpc-123'"),
        ({"SUBNETS": "subnet-0123456789abcdef0,subnet-0123456789abcdef0"}, "SUBNETS lists the same id twice"),
        ({"SECURITY_GROUPS": ",".join(f"sg-0123456789abcdef{i}" for i in range(6))}, "at most 5"),
        ({"ASSIGN_PUBLIC_IP": "yes"}, "ASSIGN_PUBLIC_IP is 'yes'; expected one of ENABLED, DISABLED"),
        ({"ON_DEMAND_FALLBACK": "1"}, "ON_DEMAND_FALLBACK is '1'; expected true or false"),
        ({"MAX_SESSIONS_PER_USER": "0"}, "MAX_SESSIONS_PER_USER is 0; expected an integer 1-50"),
        ({"MAX_SESSIONS_PER_USER": "two"}, "MAX_SESSIONS_PER_USER is 'two'"),
        ({"CAPACITY_PROVIDER_STRATEGY": "[{"}, "CAPACITY_PROVIDER_STRATEGY is not valid JSON"),
        ({"CAPACITY_PROVIDER_STRATEGY": "[]"}, "CAPACITY_PROVIDER_STRATEGY must be a non-empty JSON list"),
        ({"CAPACITY_PROVIDER_STRATEGY": '[{"capacityProvider": "FARGATE", "weight": 0}]'}, "at least one capacity provider with weight > 0"),
        ({"CAPACITY_PROVIDER_STRATEGY": '[{"capacityProvider": "A", "weight": 1, "base": 1}, {"capacityProvider": "B", "weight": 1, "base": 2}]'},
         "base to only one capacity provider"),
        ({"CAPACITY_PROVIDER_STRATEGY": '[{"capacityProvider": "FARGATE", "weight": 1001}]'}, "weight must be an integer 0-1000"),
        ({"CAPACITY_PROVIDER_STRATEGY": '[{"capacityProvider": "FARGATE", "weight": 1, "launchType": "FARGATE"}]'}, "unknown keys ['launchType']"),
        ({"SIZE_PRESETS": '{"small": {"cpu": 1024, "memory": 1024}}'}, "memory 1024 MiB, not valid with cpu 1024; Fargate allows 2048-8192 MiB in 1024 MiB steps"),
        ({"SIZE_PRESETS": '{"small": {"cpu": 300, "memory": 1024}}'}, "has cpu 300; Fargate allows 256, 512"),
        ({"SIZE_PRESETS": '{"small": {"cpu": 1024}}'}, "must be an object with exactly cpu and memory"),
        ({"SIZE_PRESETS": '{"bad name": {"cpu": 1024, "memory": 2048}}'}, "size name 'bad name'"),
        ({"DEFAULT_SIZE": "huge"}, "DEFAULT_SIZE 'huge' is not one of SIZE_PRESETS (small, xl)"),
        ({"SESSION_TTL_HOURS": "4"}, "MAX_LIFETIME_HOURS (8) must be less than SESSION_TTL_HOURS (4)"),
        ({"SESSION_TTL_HOURS": "8"}, "MAX_LIFETIME_HOURS (8) must be less than SESSION_TTL_HOURS (8)"),
        ({"EDITOR_ACCESS": "vpn"}, "EDITOR_ACCESS is 'vpn'"),
        ({"ASSIGN_PUBLIC_IP": "DISABLED"}, "ASSIGN_PUBLIC_IP must be ENABLED when EDITOR_ACCESS=public"),
        ({**PRIVATE, "EDITOR_DOMAIN": None}, "EDITOR_DOMAIN is required when EDITOR_ACCESS=private"),
        ({**PRIVATE, "LISTENER_ARN": None}, "LISTENER_ARN is required when EDITOR_ACCESS=private"),
        ({**PRIVATE, "VPC_ID": None}, "VPC_ID is required when EDITOR_ACCESS=private"),
        ({**PRIVATE, "EDITOR_DOMAIN": "https://ide.example.com"}, "EDITOR_DOMAIN is 'https://ide.example.com'; expected a lowercase DNS name"),
        ({**PRIVATE, "EDITOR_DOMAIN": "IDE.example.com"}, "EDITOR_DOMAIN is 'IDE.example.com'"),
        ({**PRIVATE, "EDITOR_DOMAIN": "*.ide.example.com"}, "no scheme, path or wildcard"),
        ({**PRIVATE, "EDITOR_DOMAIN": "localhost"}, "EDITOR_DOMAIN is 'localhost'"),
        ({**PRIVATE, "EDITOR_DOMAIN": "ide.example.123"}, "EDITOR_DOMAIN is 'ide.example.123'"),
        ({**PRIVATE, "EDITOR_DOMAIN": "a" * 63 + "." + "b" * 61 + ".com"}, "at most 128 characters"),
        ({**PRIVATE, "LISTENER_ARN": LISTENER.replace(":listener/", ":loadbalancer/").rsplit("/", 1)[0]},
         "LISTENER_ARN must be an Application Load Balancer listener ARN"),
        ({**PRIVATE, "VPC_ID": "subnet-0123456789abcdef0"}, "VPC_ID is 'subnet-0123456789abcdef0', which is not a VPC id"),
        ({"EDITOR_DOMAIN": "ide.example.com"}, "EDITOR_DOMAIN is only used with EDITOR_ACCESS=private"),
        ({"LISTENER_ARN": LISTENER}, "LISTENER_ARN is only used with EDITOR_ACCESS=private"),
        ({"VPC_ID": "vpc-0123456789abcdef0"}, "VPC_ID is only used with EDITOR_ACCESS=private"),
        ({"EDITOR_PORT": "70000"}, "EDITOR_PORT is 70000"),
        ({"GRAPHQL_URL": "https://api.example.com/graphql"}, "GRAPHQL_URL is not a standard AppSync endpoint, so AWS_REGION must be set"),
        ({"BUDGET_DENY_POLICY_ARN": "budget-deny"}, "BUDGET_DENY_POLICY_ARN must be an IAM policy ARN"),
    ],
)
def test_invalid_values_get_specific_errors(changes, expected):
    assert expected in error_of(**changes)


def test_private_mode_and_graphql_region():
    s = parse(**PRIVATE, GRAPHQL_URL="https://abcdefghij.appsync-api.eu-west-1.amazonaws.com/graphql")
    assert (s.editor_domain, s.listener_arn, s.vpc_id) == ("ide.example.com", LISTENER, "vpc-0123456789abcdef0")
    assert s.assign_public_ip is False
    # The longest accepted domain still makes a host the load balancer's condition accepts.
    longest = "a" * 60 + "." + "b" * 26 + ".com"
    assert len(f"{'0' * 36}.{parse(**{**PRIVATE, 'EDITOR_DOMAIN': longest}).editor_domain}") == 128
    assert parse().editor_domain is None and parse().listener_arn is None and parse().vpc_id is None
    assert s.graphql_region == "eu-west-1"
    custom = parse(GRAPHQL_URL="https://api.example.com/graphql", AWS_REGION="ap-northeast-1")
    assert custom.graphql_region == "ap-northeast-1"


def test_private_mode_needs_the_user_pool_the_rules_authenticate_with():
    s = parse(**PRIVATE)
    assert (s.user_pool_client_id, s.user_pool_domain) == ("4abcdefghijklmnopqrstu1234", "aiplatform-dev")
    assert "USER_POOL_ARN is required when EDITOR_ACCESS=private" in error_of(**{**PRIVATE, "USER_POOL_ARN": None})
    assert "must be a Cognito user pool ARN" in error_of(**{**PRIVATE, "USER_POOL_ARN": "us-east-1_AbCdEf123"})
    assert "USER_POOL_DOMAIN is only used with EDITOR_ACCESS=private" in error_of(USER_POOL_DOMAIN="x")


def test_github_app_settings_come_all_or_none():
    assert parse().github is None
    app = parse(**GITHUB).github
    assert (app.app_id, app.installation_id, app.api_url) == ("123456", "98765432", "https://api.github.com")
    assert "GITHUB_APP_KEY_SECRET_ARN is required with the other" in error_of(**{**GITHUB, "GITHUB_APP_KEY_SECRET_ARN": None})
    assert "expected the numeric id" in error_of(**{**GITHUB, "GITHUB_APP_ID": "my-app"})
    assert "GITHUB_API_URL is set without" in error_of(GITHUB_API_URL="https://api.github.com")
    assert "expected an https URL" in error_of(**GITHUB, GITHUB_API_URL="http://github.example.com/api/v3")
    assert parse(**GITHUB, GITHUB_API_URL="https://ghe.example.com/api/v3/").github.api_url == "https://ghe.example.com/api/v3"


def test_launch_bucket_is_required_and_checked():
    assert "LAUNCH_BUCKET is required" in error_of(LAUNCH_BUCKET=None)
    assert "not an S3 bucket name" in error_of(LAUNCH_BUCKET="Not_A_Bucket")
