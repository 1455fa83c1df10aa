"""app.deploy.outputs: reading stack outputs from both sources, and the files written from them."""

from __future__ import annotations

import ast
import json
import stat
import sys
from pathlib import Path

import pytest

from app.deploy import contract
from app.deploy.outputs import OutputsError, StackOutputs, amplify_outputs_json, env_lines, write
from tests.deploy import fixtures as fx

PACKAGE = Path(__file__).resolve().parents[2] / "app" / "deploy"


def test_package_needs_only_the_standard_library():
    """App teams run it without Pulumi: every import is relative or from the standard library."""
    for path in PACKAGE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                roots = [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                roots = [node.module.split(".")[0]]
            else:
                continue
            for root in roots:
                assert root in sys.stdlib_module_names or root == "__future__", f"{path.name} imports {root}"


# --- pulumi stack output --json --------------------------------------------------------------------
def test_reads_pulumi_json_into_typed_values():
    out = StackOutputs.from_pulumi_json(fx.pulumi_json(fx.stack_outputs()))
    assert out.region == "us-east-1" and out.user_pool_id == fx.POOL and out.graphql_url == fx.URL
    assert out.graphql_auth_modes == ("AMAZON_COGNITO_USER_POOLS", "AWS_IAM") and not out.api_key_enabled
    assert out.oauth_domain is None and out.graphql_api_key is None
    users = out.tables["users"]
    assert users.name == "data-users-1a2b3c4"
    assert users.regions["us-east-1"].arn.endswith(":table/data-users-1a2b3c4")
    assert users.regions["us-east-1"].stream_arn.endswith("/stream/2026-01-01T00:00:00.000")
    assert out.amplify_outputs["auth"]["user_pool_id"] == fx.POOL
    assert out.withheld == {}


def test_null_optional_outputs_read_as_unset():
    values = {**fx.stack_outputs(), "oauthDomain": None, "dashboardName": None}
    out = StackOutputs.from_pulumi_json(json.dumps(values))
    assert out.oauth_domain is None and out.get("dashboardName") is None


def test_masked_secrets_load_but_explain_themselves_when_needed(tmp_path):
    out = StackOutputs.from_pulumi_json(fx.pulumi_json(fx.stack_outputs(api_key=True)))
    assert set(out.withheld) == {"graphqlApiKey", "amplifyOutputs"}
    assert out.api_key_enabled
    with pytest.raises(OutputsError) as err:
        write(out, tmp_path)
    assert str(err.value) == ('pulumi stack output --json: output amplifyOutputs is a secret and was printed as '
                              '"[secret]": run `pulumi stack output --json --show-secrets`')
    assert list(tmp_path.iterdir()) == []  # nothing half-written


def test_shown_secrets_are_used_and_the_key_written_only_when_asked(tmp_path):
    out = StackOutputs.from_pulumi_json(fx.pulumi_json(fx.stack_outputs(api_key=True), show_secrets=True))
    assert out.graphql_api_key == fx.API_KEY
    write(out, tmp_path / "plain")
    assert fx.API_KEY not in (tmp_path / "plain" / ".env").read_text()
    write(out, tmp_path / "with-key", include_api_key=True)
    env = (tmp_path / "with-key" / ".env").read_text()
    assert f"GRAPHQL_API_KEY={fx.API_KEY}\n" in env
    assert stat.S_IMODE((tmp_path / "with-key" / ".env").stat().st_mode) == 0o600
    # Amplify needs the key for API_KEY operations: amplify_outputs.json keeps what the stack exported.
    assert json.loads((tmp_path / "plain" / "amplify_outputs.json").read_text())["data"]["api_key"] == fx.API_KEY


def test_include_api_key_without_an_api_key_is_an_error():
    out = StackOutputs.from_pulumi_json(fx.pulumi_json(fx.stack_outputs()))
    with pytest.raises(OutputsError, match="--include-api-key was given but the stack has no API key"):
        env_lines(out, include_api_key=True)


def test_masked_api_key_is_explained_when_asked_for():
    out = StackOutputs.from_pulumi_json(fx.pulumi_json(fx.stack_outputs(api_key=True)))
    with pytest.raises(OutputsError, match=r"output graphqlApiKey is a secret .*--show-secrets"):
        env_lines(out, include_api_key=True)


def test_missing_outputs_are_all_named():
    values = fx.stack_outputs()
    for name in ("userPoolId", "tables", "alarmTopicArn"):
        del values[name]
    values["graphqlUrl"] = None
    with pytest.raises(OutputsError) as err:
        StackOutputs.from_pulumi_json(json.dumps(values), source="outputs.json")
    assert str(err.value) == ("outputs.json: missing required output(s): userPoolId, graphqlUrl, tables, alarmTopicArn "
                              "(is the stack deployed with the current platform program?)")


def test_bad_json_is_one_line():
    with pytest.raises(OutputsError) as err:
        StackOutputs.from_pulumi_json('{"region": ', source="o.json")
    assert str(err.value) == "o.json: not valid JSON (Expecting value at line 1 column 12)"


def test_a_non_object_is_refused():
    with pytest.raises(OutputsError, match="expected the JSON object `pulumi stack output --json` prints, got list"):
        StackOutputs.from_pulumi_json("[]")


@pytest.mark.parametrize("name, value, message", [
    ("editorAccess", "open", "output editorAccess must be one of public, private, got 'open'"),
    ("region", "Virginia", "output region must be an AWS region name, got 'Virginia'"),
    ("publicSubnetIds", "subnet-1", "output publicSubnetIds must be a list of strings"),
    ("graphqlAuthModes", ["COGNITO"], "output graphqlAuthModes must list AppSync authorization types"),
    ("tables", {"users": {"name": "u", "regions": {}}}, "output tables lacks table(s) sessions, conversations"),
    ("amplifyOutputs", {"version": "2"}, "output amplifyOutputs must be an amplify_outputs.json object"),
])
def test_malformed_outputs_are_named(name, value, message):
    values = {**fx.stack_outputs(), name: value}
    with pytest.raises(OutputsError) as err:
        StackOutputs.from_pulumi_json(json.dumps(values))
    assert message in str(err.value)


def test_contradicting_outputs_are_caught():
    values = fx.stack_outputs()
    values["userPoolId"] = "us-east-1_Other"
    values["graphqlAuthModes"] = ["AMAZON_COGNITO_USER_POOLS", "AWS_IAM", "API_KEY"]
    with pytest.raises(OutputsError) as err:
        StackOutputs.from_pulumi_json(json.dumps(values))
    message = str(err.value)
    assert "API_KEY is enabled but graphqlApiKey is missing" in message
    assert "output amplifyOutputs.auth.user_pool_id is 'us-east-1_AbCdEfGhI' but the stack says 'us-east-1_Other'" \
        in message


def test_a_secret_where_the_contract_has_none_is_an_error():
    values = {**fx.stack_outputs(), "region": "[secret]"}
    with pytest.raises(OutputsError, match="output\\(s\\) region are secret but the contract says they never are"):
        StackOutputs.from_pulumi_json(json.dumps(values))


def test_preview_unknowns_are_refused():
    values = {**fx.stack_outputs(), "vpcId": "04da6b54-80e4-46f7-96ec-b56ff0331ba9"}
    with pytest.raises(OutputsError, match="output\\(s\\) vpcId are unknown until the stack is deployed"):
        StackOutputs.from_pulumi_json(json.dumps(values))


# --- stack export ----------------------------------------------------------------------------------
def test_reads_an_export_and_opens_decrypted_secrets():
    out = StackOutputs.from_export(fx.export_doc(fx.stack_outputs(api_key=True), decrypted=True))
    assert out.graphql_api_key == fx.API_KEY
    assert out.amplify_outputs["data"]["api_key"] == fx.API_KEY


def test_offline_preview_secrets_are_reported_as_withheld():
    out = StackOutputs.from_export(fx.export_doc(fx.stack_outputs(api_key=True)), source="out/dev.json")
    with pytest.raises(OutputsError) as err:
        out.amplify_outputs
    assert str(err.value) == ("out/dev.json: output amplifyOutputs is a secret, and the offline preview never writes "
                              "secret values (read a deployed stack: `pulumi stack output --json --show-secrets`)")


def test_real_ciphertext_is_reported_as_encrypted():
    doc = fx.export_doc(fx.stack_outputs(api_key=True))
    doc["deployment"]["resources"][0]["outputs"]["graphqlApiKey"]["ciphertext"] = "v1:abc:def"
    out = StackOutputs.from_export(doc)
    with pytest.raises(OutputsError, match="graphqlApiKey is encrypted in this export: run `pulumi stack export "
                                           "--show-secrets`"):
        out.graphql_api_key


@pytest.mark.parametrize("doc, message", [
    ({"version": 2, "deployment": {}}, "stack export version 2 is not supported (expected 3)"),
    ({"version": 3}, "not a `pulumi stack export` file (no deployment object)"),
    ({"version": 3, "deployment": {"resources": []}}, "expected one pulumi:pulumi:Stack resource, found 0"),
])
def test_bad_exports_are_refused(doc, message):
    with pytest.raises(OutputsError) as err:
        StackOutputs.from_export(doc, source="x.json")
    assert str(err.value).startswith(f"x.json: {message}")


# --- writers -----------------------------------------------------------------------------------------
def test_env_has_public_values_first_and_no_secrets():
    out = StackOutputs.from_pulumi_json(fx.pulumi_json(fx.stack_outputs(oauth=True)))
    lines = env_lines(out)
    env = dict(line.split("=", 1) for line in lines)
    public = [k for k in env if k.startswith("NEXT_PUBLIC_")]
    assert lines[:len(public)] == [f"{k}={env[k]}" for k in public]
    assert env["NEXT_PUBLIC_AWS_REGION"] == "us-east-1"
    assert env["NEXT_PUBLIC_USER_POOL_ID"] == fx.POOL
    assert env["NEXT_PUBLIC_USER_POOL_CLIENT_ID"] == fx.CLIENT
    assert env["NEXT_PUBLIC_GRAPHQL_URL"] == fx.URL
    assert env["NEXT_PUBLIC_GRAPHQL_AUTH_MODE"] == "AMAZON_COGNITO_USER_POOLS"
    assert env["NEXT_PUBLIC_OAUTH_DOMAIN"] == "example-app.auth.us-east-1.amazoncognito.com"
    assert env["COGNITO_ISSUER_URL"] == f"https://cognito-idp.us-east-1.amazonaws.com/{fx.POOL}"
    assert env["DYNAMODB_TABLE_AGENT_PRESETS"] == "data-agentPresets-1a2b3c4"
    assert "GRAPHQL_API_KEY" not in env
    secret_envs = {s.env for s in contract.OUTPUT_NAMES.values() if s.secret != "never"}
    assert not secret_envs & set(public)


def test_env_refuses_values_dotenv_would_mangle():
    values = fx.stack_outputs()
    values["sessionApiFunctionName"] = "fn $HOME"
    out = StackOutputs.from_pulumi_json(json.dumps(values))
    with pytest.raises(OutputsError, match="output\\(s\\) sessionApiFunctionName hold characters a .env value"):
        env_lines(out)


def test_amplify_file_is_the_exported_object():
    values = fx.stack_outputs(oauth=True)
    out = StackOutputs.from_pulumi_json(json.dumps(values))
    assert json.loads(amplify_outputs_json(out)) == values["amplifyOutputs"]


def test_write_refuses_a_file_as_directory(tmp_path):
    out = StackOutputs.from_pulumi_json(fx.pulumi_json(fx.stack_outputs()))
    (tmp_path / "f").write_text("")
    with pytest.raises(OutputsError, match="exists and is not a directory"):
        write(out, tmp_path / "f")


# --- agents ------------------------------------------------------------------------------------------
def test_agents_read_as_one_typed_value_and_reach_the_env():
    out = StackOutputs.from_pulumi_json(fx.pulumi_json(fx.stack_outputs()))
    agents = out.agents
    assert agents.runtime_arn == fx.RUNTIME_ARN and agents.endpoint_name == "live"
    assert agents.client_id == fx.CLIENT and agents.token_use == "access"
    assert agents.invocation_url == contract.agent_invocation_url("us-east-1", fx.RUNTIME_ARN, "live")
    env = dict(line.split("=", 1) for line in env_lines(out))
    # The escaped ARN and the qualifier survive dotenv unquoted (no #, $, spaces or quotes).
    assert env["NEXT_PUBLIC_AGENT_INVOCATION_URL"] == agents.invocation_url
    assert env["NEXT_PUBLIC_AGENT_RUNTIME_ARN"] == fx.RUNTIME_ARN
    assert env["NEXT_PUBLIC_AGENT_CLIENT_ID"] == fx.CLIENT
    assert env["NEXT_PUBLIC_AGENT_ENDPOINT_NAME"] == "live"
    assert out.amplify_outputs["custom"]["agents"]["invocation_url"] == agents.invocation_url


def test_a_stack_without_agents_has_none_and_no_agent_env():
    out = StackOutputs.from_pulumi_json(fx.pulumi_json(fx.stack_outputs(agents=False)))
    assert out.agents is None
    assert not [line for line in env_lines(out) if line.startswith("NEXT_PUBLIC_AGENT_")]


@pytest.mark.parametrize("change, message", [
    ({"agentInvocationUrl": None}, "outputs agentRuntimeArn, agentEndpointName, agentAuthorizerClientId, "
                                   "agentRepositoryUrl are set but agentInvocationUrl are not"),
    ({"agentAuthorizerClientId": "otherclient"}, "agentAuthorizerClientId is not the web app client"),
    ({"agentEndpointName": "DEFAULT"}, "output agentInvocationUrl is"),
    ({"agentRuntimeArn": fx.RUNTIME_ARN.replace("us-east-1", "eu-west-1")},
     "output agentRuntimeArn is not in the stack's region us-east-1"),
    ({"agentRuntimeArn": "arn:aws:lambda:us-east-1:123456789012:function:x"},
     "output agentRuntimeArn must be an AgentCore runtime ARN"),
])
def test_inconsistent_agent_outputs_are_refused(change, message):
    values = {**fx.stack_outputs(), **change}
    with pytest.raises(OutputsError) as err:
        StackOutputs.from_pulumi_json(json.dumps(values))
    assert message in str(err.value)


def test_amplify_outputs_must_describe_the_same_runtime():
    values = fx.stack_outputs()
    values["amplifyOutputs"] = fx.stack_outputs(agents=False)["amplifyOutputs"]
    with pytest.raises(OutputsError, match="amplifyOutputs.custom.agents does not describe the stack's agent runtime"):
        StackOutputs.from_pulumi_json(json.dumps(values))
