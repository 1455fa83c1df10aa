"""The whole program for dev and prod under mocks: the path the offline preview takes."""

from __future__ import annotations

import json

import jsonschema
import pytest
import yaml

from tests import published_schemas
from tools import export, preview, program

PROVIDER_TYPE = "pulumi:providers:aws"


@pytest.fixture(scope="module")
def runs():
    return {stack: program.run(stack) for stack in ("dev", "prod")}


def test_pulumi_yaml_validates_against_pulumis_project_schema():
    schema = published_schemas.load(published_schemas.PULUMI_PROJECT)
    project = yaml.safe_load((program.ROOT / "Pulumi.yaml").read_text())
    jsonschema.validate(project, schema)
    assert project["runtime"]["name"] == "python"


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_export_validates_against_pulumis_deployment_schema(runs, stack):
    doc = export.build(runs[stack])
    errors = sorted(export.validator().iter_errors(doc), key=str)
    assert not errors, errors[0].message
    resources = doc["deployment"]["resources"]
    assert resources[0]["type"] == "pulumi:pulumi:Stack" and resources[0]["outputs"]
    urns = {r["urn"] for r in resources}
    for r in resources[1:]:
        assert r["parent"] in urns, f"{r['urn']} has a dangling parent"
        for dep in r.get("dependencies", []):
            assert dep in urns
        if r.get("provider"):
            assert r["provider"].rsplit("::", 1)[0] in urns


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_urns_chain_every_parent_type(runs, stack):
    regs = {r.urn: r for r in runs[stack].registrations}
    stack_urn = runs[stack].monitor.stack_urn
    for reg in regs.values():
        chain = reg.urn.split("::")[2]
        if reg.parent == stack_urn:
            assert chain == reg.type
        else:
            assert chain == regs[reg.parent].urn.split("::")[2] + "$" + reg.type


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_aws_resource_uses_the_tagging_provider(runs, stack):
    """Tags are set once, on the provider; every aws resource must go through that provider."""
    run = runs[stack]
    providers = [r for r in run.registrations if r.type == PROVIDER_TYPE]
    assert len(providers) == 1
    provider = providers[0]
    tags = json.loads(provider.plain_inputs["defaultTags"])["tags"]
    assert tags["project"] == "aiplatform" and tags["environment"] == stack and tags["team"] == "platform"
    for reg in run.registrations:
        if reg.custom and reg.type.startswith("aws:"):
            assert reg.provider.startswith(provider.urn + "::"), reg.urn


def test_exports_are_deterministic(runs):
    again = program.run("dev")
    a = export.build(runs["dev"])["deployment"]["resources"]
    b = export.build(again)["deployment"]["resources"]
    assert a == b


def test_preview_cli_exits_2_with_one_line_on_bad_stack(capsys):
    assert preview.main(["--stack", "staging"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"error: Pulumi.staging.yaml not found: stacks are the Pulumi.<stack>.yaml files in {program.ROOT}"


def test_preview_cli_prints_summary_and_writes_export(tmp_path, capsys):
    out = tmp_path / "dev.json"
    assert preview.main(["--stack", "dev", "--export", str(out)]) == 0
    text = capsys.readouterr().out
    assert "Offline preview of stack 'dev'" in text and "aiplatform:network:Network" in text
    doc = json.loads(out.read_text())
    assert doc["version"] == 3


def test_preview_cli_reports_invalid_config_in_one_line(tmp_path, capsys):
    for name in ("Pulumi.yaml", "__main__.py"):
        (tmp_path / name).write_text((program.ROOT / name).read_text())
    dev = yaml.safe_load((program.ROOT / "Pulumi.dev.yaml").read_text())
    dev["config"]["aiplatform:network"]["azs"] = 9
    (tmp_path / "Pulumi.dev.yaml").write_text(yaml.safe_dump(dev))
    assert preview.main(["--stack", "dev", "--root", str(tmp_path)]) == 2
    captured = capsys.readouterr()
    assert captured.err == "error: Pulumi.dev.yaml: network.azs must be between 1 and 6, got 9\n"
    assert captured.out == ""


def test_dev_fixed_monthly_cost_stays_under_five_dollars(runs):
    """Issue #2's target for dev, measured by the policy pack's dated price table."""
    from policies.engine import evaluate

    report = evaluate(export.build(runs["dev"]), stack="dev")
    assert 0 < report.cost.total < 5, [(i.item, i.monthly_usd) for i in report.cost.items]
    prod = evaluate(export.build(runs["prod"]), stack="prod")
    assert prod.cost.total > report.cost.total  # NAT per AZ and a load balancer are prod-only


def test_using_a_deprecated_pulumi_aws_argument_fails_the_suite():
    """pytest.ini turns pulumi-aws deprecation warnings into errors; prove the filter bites."""
    import pulumi_aws as aws

    from tests.conftest import build

    def declare(cfg, opts):
        aws.dynamodb.Table("legacy", attributes=[{"name": "id", "type": "S"}], hash_key="id",
                           billing_mode="PAY_PER_REQUEST",
                           global_secondary_indexes=[aws.dynamodb.TableGlobalSecondaryIndexArgs(
                               name="byId", hash_key="id", projection_type="ALL")],
                           opts=opts)

    with pytest.raises(DeprecationWarning, match="hash_key is deprecated"):
        build(declare, "dev")


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_no_deprecated_pulumi_aws_resource_or_argument_in_either_stack(runs, stack):
    """Deprecated arguments passed as dicts or keywords never warn in Python (only the Args classes
    do), so the registered inputs are walked against pulumi-aws's own deprecation list."""
    from tools import deprecations

    assert deprecations.find(export.build(runs[stack])["deployment"]["resources"]) == []


def test_deprecation_walk_finds_dict_and_keyword_forms_and_deprecated_resources():
    from tools import deprecations

    found = deprecations.find([
        {"urn": "u1", "type": "aws:dynamodb/table:Table",
         "inputs": {"hashKey": "id", "globalSecondaryIndexes": [{"name": "a", "keySchemas": []},
                                                                {"name": "b", "hashKey": "id"}]}},
        {"urn": "u2", "type": "aws:s3/bucket:Bucket", "inputs": {"acl": "private", "bucket": "x"}},
        {"urn": "u3", "type": "aws:s3/bucketV2:BucketV2", "inputs": {}},
        {"urn": "u4", "type": "aws:lambda/function:Function", "inputs": {"runtime": "python3.12"}},
        {"urn": "u5", "type": "awsx:ec2:Vpc", "inputs": {"natGateways": {"strategy": "None"}}},
    ])
    assert found == [
        "u1: globalSecondaryIndexes[1].hashKey: hash_key is deprecated. Use key_schema instead.",
        "u2: acl: acl is deprecated. Use the s3.BucketAcl resource instead.",
        "u3: aws:s3/bucketV2:BucketV2: BucketV2 is deprecated: s3.BucketV2 has been deprecated in favor of s3.Bucket",
    ]


def test_preview_cli_fails_on_a_deprecated_argument_given_as_a_dict(tmp_path, capsys):
    """The form our components use (plain dicts) reaches the engine without a Python warning."""
    for name in ("Pulumi.yaml", "Pulumi.dev.yaml"):
        (tmp_path / name).write_text((program.ROOT / name).read_text())
    main = (program.ROOT / "__main__.py").read_text() + (
        "\nimport pulumi_aws as _aws\n"
        "_aws.dynamodb.Table('legacy', attributes=[{'name': 'id', 'type': 'S'}], billing_mode='PAY_PER_REQUEST',\n"
        "    hash_key='id', global_secondary_indexes=[{'name': 'byId', 'hash_key': 'id', 'projection_type': 'ALL'}],\n"
        "    opts=opts)\n")
    (tmp_path / "__main__.py").write_text(main)
    assert preview.main(["--stack", "dev", "--root", str(tmp_path), "--no-policy"]) == 1
    err = capsys.readouterr().err
    assert ("warning: pulumi-aws: urn:pulumi:dev::aiplatform::aws:dynamodb/table:Table::legacy: "
            "globalSecondaryIndexes[0].hashKey: hash_key is deprecated. Use key_schema instead.") in err


def test_load_balancer_security_group_is_exported_only_where_there_is_a_load_balancer(runs):
    outs = {stack: export.build(runs[stack])["deployment"]["resources"][0]["outputs"] for stack in ("dev", "prod")}
    assert outs["dev"]["editorAccess"] == "public" and outs["dev"].get("loadBalancerSecurityGroupId") is None
    assert outs["prod"]["editorAccess"] == "private"
    assert outs["prod"]["loadBalancerSecurityGroupId"].startswith("sg-")
    assert outs["prod"]["loadBalancerSecurityGroupId"] != outs["prod"]["sessionSecurityGroupId"]


def test_a_key_declared_without_default_must_be_set_on_every_stack_as_the_cli_demands(tmp_path, capsys):
    """The Pulumi CLI refuses `pulumi up` on a stack that lacks such a key; offline must refuse too,
    so a declaration like that (it once blocked every real deploy) cannot pass the suite."""
    project = yaml.safe_load((program.ROOT / "Pulumi.yaml").read_text())
    assert all(isinstance(d, dict) and ("default" in d or all(
        f"aiplatform:{k}" in yaml.safe_load((program.ROOT / f"Pulumi.{s}.yaml").read_text())["config"]
        for s in ("dev", "prod"))) for k, d in project["config"].items())
    project["config"]["fooSecret"] = {"type": "string", "secret": True}
    (tmp_path / "Pulumi.yaml").write_text(yaml.safe_dump(project))
    for name in ("Pulumi.dev.yaml", "__main__.py"):
        (tmp_path / name).write_text((program.ROOT / name).read_text())
    assert preview.main(["--stack", "dev", "--root", str(tmp_path)]) == 2
    assert capsys.readouterr().err == (
        "error: Pulumi.dev.yaml is missing configuration value(s) aiplatform:fooSecret (declared in Pulumi.yaml "
        "without a default, so the Pulumi CLI requires them on every stack)\n")


def test_a_yaml_syntax_error_in_a_stack_file_is_one_line_with_its_position(tmp_path, capsys):
    for name in ("Pulumi.yaml", "__main__.py"):
        (tmp_path / name).write_text((program.ROOT / name).read_text())
    (tmp_path / "Pulumi.dev.yaml").write_text("config:\n  aws:region: us-east-1\n  aiplatform:tags: {team: [x}\n")
    assert preview.main(["--stack", "dev", "--root", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: Pulumi.dev.yaml is not valid YAML at line 3, column ")


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_tags_all_carries_the_providers_default_tags_as_aws_reports_them(runs, stack):
    resources = export.build(runs[stack])["deployment"]["resources"]
    tagged = [r for r in resources if r.get("custom") and "tagsAll" in (r.get("outputs") or {})]
    assert len(tagged) > 20
    for r in tagged:
        tags_all, own = r["outputs"]["tagsAll"], r["inputs"].get("tags") or {}
        assert tags_all["project"] == "aiplatform" and tags_all["environment"] == stack, r["urn"]
        assert own.items() <= tags_all.items(), r["urn"]  # a resource's own tag wins over a default
