"""examples/app-stack under mocks: it reads the platform stack through a StackReference and builds
its resources from the contract's outputs."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

import tools.mocks
from tests import published_schemas
from tests.conftest import ROOT
from tests.deploy import fixtures as fx
from tools import program
from tools.mocks import SECRET_SIG, SECRET_VALUE_SIG, unwrap_secrets

EXAMPLE = ROOT / "examples" / "app-stack"
CONFIG = {"aiplatform-app:org": "acme", "aws:region": "eu-west-1"}


class PlatformStackMocks(tools.mocks.PlatformMocks):
    """PlatformMocks that answer StackReference reads with a platform stack's outputs, as the engine
    does: the outputs map plus the names of the secret ones."""

    outputs: dict = {}
    secret_names: list = []
    references: list = []

    def new_resource(self, args):
        if args.typ == "pulumi:pulumi:StackReference":
            type(self).references.append(args.inputs["name"])
            return args.inputs["name"], {"name": args.inputs["name"], "outputs": type(self).outputs,
                                         "secretOutputNames": type(self).secret_names}
        return super().new_resource(args)


@pytest.fixture
def run_example(monkeypatch):
    def run(values: dict, config: dict = CONFIG):
        monkeypatch.setattr(PlatformStackMocks, "outputs", values)
        monkeypatch.setattr(PlatformStackMocks, "secret_names", fx.secret_names(values))
        monkeypatch.setattr(PlatformStackMocks, "references", [])
        monkeypatch.setattr(tools.mocks, "PlatformMocks", PlatformStackMocks)
        return program.run("dev", config=dict(config), secret_keys=[], program=EXAMPLE / "__main__.py",
                           root=EXAMPLE)
    return run


def test_project_file_validates_against_pulumis_schema():
    schema = published_schemas.load(published_schemas.PULUMI_PROJECT)
    jsonschema.validate(yaml.safe_load((EXAMPLE / "Pulumi.yaml").read_text()), schema)


def test_example_pins_the_platforms_sdk_versions():
    def pins(path: Path) -> dict:
        return dict(line.split("==") for line in path.read_text().splitlines()
                    if "==" in line and not line.startswith("#"))
    root, example = pins(ROOT / "requirements.txt"), pins(EXAMPLE / "requirements.txt")
    assert example and all(root[name] == version for name, version in example.items())


def test_reads_the_platform_and_publishes_parameters(run_example):
    values = fx.stack_outputs()
    run = run_example(values)
    assert PlatformStackMocks.references == ["acme/aiplatform/dev"]
    provider = next(r for r in run.registrations if r.type == "pulumi:providers:aws")
    assert provider.plain_inputs["region"] == "us-east-1"  # the platform's region, not the app's config
    params = {r.plain_inputs["name"]: r for r in run.monitor.of_type("aws:ssm/parameter:Parameter")}
    assert set(params) == {"/apps/web/dev/graphql-url", "/apps/web/dev/cognito"}
    assert params["/apps/web/dev/graphql-url"].plain_inputs["value"] == fx.URL
    assert json.loads(params["/apps/web/dev/cognito"].plain_inputs["value"]) == {
        "userPoolId": fx.POOL, "clientId": fx.CLIENT, "issuer": values["identityIssuerUrl"]}
    for reg in params.values():
        assert reg.provider.startswith(provider.urn + "::")
    outputs = unwrap_secrets(run.outputs)
    assert outputs["messagesTableName"] == "data-messages-1a2b3c4"
    assert outputs["messagesTableArn"] == values["tables"]["messages"]["regions"]["us-east-1"]["arn"]
    assert json.loads(outputs["amplifyOutputs"]) == values["amplifyOutputs"]
    assert run.outputs["amplifyOutputs"] == outputs["amplifyOutputs"]  # no API key: not secret


def test_secret_platform_outputs_stay_secret(run_example):
    run = run_example(fx.stack_outputs(api_key=True))
    wrapped = run.outputs["amplifyOutputs"]
    assert isinstance(wrapped, dict) and wrapped[SECRET_SIG] == SECRET_VALUE_SIG
    assert json.loads(unwrap_secrets(wrapped))["data"]["api_key"] == fx.API_KEY
    assert run.outputs["graphqlUrl"] == fx.URL  # the others stay readable


def test_platform_stack_can_be_chosen(run_example):
    run_example(fx.stack_outputs(), {**CONFIG, "aiplatform-app:platformStack": "prod"})
    assert PlatformStackMocks.references == ["acme/aiplatform/prod"]


def test_missing_platform_outputs_are_named(run_example):
    values = fx.stack_outputs()
    del values["graphqlUrl"], values["tables"]
    with pytest.raises(ValueError) as err:
        run_example(values)
    assert "stack acme/aiplatform/dev has no output(s) graphqlUrl, tables" in str(err.value)
