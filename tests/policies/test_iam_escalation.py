"""Kind D: every published privilege-escalation path is caught; scoped grants of the same actions pass."""

from __future__ import annotations

import json

import pytest

from policies import awstypes as t
from policies.iam_escalation import ESCALATION_FILE, methods
from policies.iam_index import action_index
from policies.rules import RULES_BY_NAME

from .helpers import allow, call, policy_doc

ACCOUNT = "123456789012"
ESCALATION = RULES_BY_NAME["iam-no-privilege-escalation"]
METHODS = methods()
MULTI = [m for m in METHODS if len(m.actions) > 1]


def _messages(*statements, type_=t.POLICY, **props) -> list[str]:
    base = {"policy": policy_doc(*statements)}
    if type_ == t.ROLE:
        base = {"name": props.pop("name", "r"), "assumeRolePolicy": policy_doc(
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}),
            "inlinePolicies": [{"name": "p", "policy": base["policy"]}]}
    return call(ESCALATION, type_, {**base, **props})


def test_escalation_data_is_sourced_and_every_action_exists():
    data = json.loads(ESCALATION_FILE.read_text())
    assert data["source"]["package"] == "cloudsplaining" and data["source"]["version"] == "0.9.1"
    assert "BSD-3-Clause" in data["source"]["licence"]
    assert len(data["methods"]) >= 50 and all(m["why"] for m in data["added"].values())
    index = action_index()
    for method in METHODS:
        for action in method.actions:
            assert index.expand(action) == (action,), (method.name, action)


@pytest.mark.parametrize("method", METHODS, ids=lambda m: m.name)
def test_every_method_granted_on_star_is_reported(method):
    canon = [action_index().canonical(a) for a in sorted(method.actions)]
    messages = _messages(allow(canon, "*"))
    assert any(method.name in m or any(c in m for c in canon) for m in messages), messages


@pytest.mark.parametrize("method", [m for m in MULTI if "iam:passrole" not in m.actions], ids=lambda m: m.name)
def test_multi_action_paths_need_every_action(method):
    canon = [action_index().canonical(a) for a in sorted(method.actions)]
    whole = _messages(allow(canon, "*"))
    path = f"escalation path {method.name}"
    single = [a for a in canon if any(f"privilege-escalation action(s)" in m and a in m for m in whole)]
    if not single:  # reported as a path only when no action of it escalates alone
        assert any(path in m and "cloudsplaining 0.9.1" in m for m in whole), whole
    for missing in canon:
        partial = _messages(allow([a for a in canon if a != missing], "*"))
        assert not any(path in m for m in partial), (missing, partial)


def test_paths_combine_across_statements_but_not_on_scoped_resources():
    # ExecuteCloudFormationChangeSet: both actions granted broadly, in two statements.
    split = _messages(allow("cloudformation:CreateChangeSet", f"arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/*"),
                      allow("cloudformation:ExecuteChangeSet", "*"))
    assert any("escalation path ExecuteCloudFormationChangeSet" in m for m in split), split
    scoped = _messages(allow(["cloudformation:CreateChangeSet", "cloudformation:ExecuteChangeSet"],
                             f"arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/app/*"))
    assert scoped == []


@pytest.mark.parametrize("action, broad, scoped", [
    ("kms:CreateGrant", f"arn:aws:kms:us-east-1:{ACCOUNT}:key/*",
     f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"),
    ("lambda:UpdateFunctionConfiguration", f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:*",
     f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:reaper"),
    ("lambda:UpdateFunctionCode", f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:?*",
     f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:reaper"),
    ("iam:CreatePolicyVersion", f"arn:aws:iam::{ACCOUNT}:policy/*", f"arn:aws:iam::{ACCOUNT}:policy/app-deny"),
    ("iam:SetDefaultPolicyVersion", f"arn:aws:iam::{ACCOUNT}:policy*", f"arn:aws:iam::{ACCOUNT}:policy/app-deny"),
    ("iam:UpdateAssumeRolePolicy", f"arn:aws:iam::{ACCOUNT}:role/*", f"arn:aws:iam::{ACCOUNT}:role/app"),
    ("iam:CreateAccessKey", f"arn:aws:iam::{ACCOUNT}:user/*", f"arn:aws:iam::{ACCOUNT}:user/${{aws:username}}"),
    ("iam:CreateLoginProfile", f"arn:aws:iam::{ACCOUNT}:user/?*", f"arn:aws:iam::{ACCOUNT}:user/${{aws:username}}"),
    ("iam:UpdateLoginProfile", "arn:aws:iam::*:user/*", f"arn:aws:iam::{ACCOUNT}:user/${{aws:username}}"),
    ("iam:AddUserToGroup", f"arn:aws:iam::{ACCOUNT}:group/${{aws:PrincipalTag/team}}",
     f"arn:aws:iam::{ACCOUNT}:group/readers"),
    ("iam:PutRolePolicy", f"arn:aws:iam::{ACCOUNT}:role/*", f"arn:aws:iam::{ACCOUNT}:role/other"),
    ("iam:AttachUserPolicy", f"arn:aws:iam::{ACCOUNT}:user/*", f"arn:aws:iam::{ACCOUNT}:user/other"),
    ("iam:DeleteRolePermissionsBoundary", f"arn:aws:iam::{ACCOUNT}:role/*", f"arn:aws:iam::{ACCOUNT}:role/other"),
    ("sts:AssumeRole", f"arn:aws:iam::{ACCOUNT}:role/?*", f"arn:aws:iam::{ACCOUNT}:role/reader"),
    ("ssm:SendCommand", f"arn:aws:ec2:us-east-1:{ACCOUNT}:instance/*",
     f"arn:aws:ec2:us-east-1:{ACCOUNT}:instance/i-0123456789abcdef0"),
    ("ssm:StartSession", f"arn:aws:ec2:us-east-1:{ACCOUNT}:instance/*",
     f"arn:aws:ec2:us-east-1:{ACCOUNT}:instance/i-0123456789abcdef0"),
    ("glue:UpdateDevEndpoint", f"arn:aws:glue:us-east-1:{ACCOUNT}:devEndpoint/*",
     f"arn:aws:glue:us-east-1:{ACCOUNT}:devEndpoint/dev"),
])
def test_single_action_paths(action, broad, scoped):
    assert any(action in m for m in _messages(allow(action, broad))), action
    assert any(action in m for m in _messages(allow(action, "*"))), action
    assert _messages(allow(action, scoped)) == [], action


def test_passrole_with_a_service_create_is_caught_through_passrole():
    for create in ("ec2:RunInstances", "lambda:CreateFunction", "glue:CreateDevEndpoint", "cloudformation:CreateStack",
                   "datapipeline:CreatePipeline", "sagemaker:CreateNotebookInstance", "codebuild:CreateProject",
                   "ecs:RegisterTaskDefinition"):
        messages = _messages(allow(["iam:PassRole", create], "*"))
        assert any("iam:PassRole on '*'" in m for m in messages), create


@pytest.mark.parametrize("type_, props, resource", [
    (t.ROLE_POLICY, {"role": "app"}, f"arn:aws:iam::{ACCOUNT}:role/app"),
    (t.ROLE_POLICY, {"role": "app-7f3e2a1"}, f"arn:aws:iam::{ACCOUNT}:role/app-*"),
    (t.ROLE, {"name": "app"}, f"arn:aws:iam::{ACCOUNT}:role/app"),
    (t.USER_POLICY, {"user": "bob"}, f"arn:aws:iam::{ACCOUNT}:user/bob"),
    (t.USER_POLICY, {"user": "bob"}, f"arn:aws:iam::{ACCOUNT}:user/${{aws:username}}"),
    (t.POLICY, {}, f"arn:aws:iam::{ACCOUNT}:user/${{aws:username}}"),
    (t.GROUP_POLICY, {"group": "devs"}, f"arn:aws:iam::{ACCOUNT}:user/${{aws:username}}"),
])
def test_self_escalation(type_, props, resource):
    action = "iam:PutUserPolicy" if ":user/" in resource else "iam:PutRolePolicy"
    messages = _messages(allow([action, "iam:AttachRolePolicy" if "role/" in resource else "iam:AttachUserPolicy"],
                               resource), type_=type_, **props)
    assert any("can rewrite its own permissions" in m for m in messages), messages


def test_writing_another_named_role_is_not_self_escalation():
    assert _messages(allow("iam:PutRolePolicy", f"arn:aws:iam::{ACCOUNT}:role/other"), type_=t.ROLE_POLICY,
                     role="app") == []


@pytest.mark.parametrize("condition, ok", [
    ({"ArnEquals": {"iam:PolicyARN": f"arn:aws:iam::{ACCOUNT}:policy/cost-deny"}}, True),
    ({"ArnLike": {"iam:PolicyARN": "arn:aws:iam::aws:policy/*"}}, False),
    ({"ArnLike": {"iam:PolicyARN": "*"}}, False),
    ({"ArnNotEquals": {"iam:PolicyARN": "arn:aws:iam::aws:policy/AdministratorAccess"}}, False),
    ({"StringEquals": {"iam:PermissionsBoundary": f"arn:aws:iam::{ACCOUNT}:policy/boundary"}}, True),
])
def test_attach_policy_pinned_by_condition(condition, ok):
    messages = _messages(allow("iam:AttachRolePolicy", f"arn:aws:iam::{ACCOUNT}:role/*", Condition=condition))
    assert (messages == []) is ok, messages


def test_deny_statements_and_project_cost_guard_pass():
    assert _messages({"Effect": "Deny", "Action": "iam:*", "Resource": "*"}) == []
    cost_guard = allow(["iam:AttachRolePolicy", "iam:DetachRolePolicy"], f"arn:aws:iam::{ACCOUNT}:role/sessions-api",
                       Condition={"ArnEquals": {"iam:PolicyARN": f"arn:aws:iam::{ACCOUNT}:policy/cost-deny"}})
    assert _messages(cost_guard, type_=t.ROLE_POLICY, role="cost-guard") == []


def test_group_policy_writing_its_own_group_is_self_escalation_but_adding_members_is_not():
    own_group = f"arn:aws:iam::{ACCOUNT}:group/devs"
    messages = _messages(allow("iam:PutGroupPolicy", own_group), type_=t.GROUP_POLICY, group="devs")
    assert any("can rewrite its own permissions" in m for m in messages), messages
    assert _messages(allow("iam:AddUserToGroup", own_group), type_=t.GROUP_POLICY, group="devs") == []


def test_ignored_methods_are_named_from_the_data_and_typos_are_config_errors():
    from policies.config import ConfigError, validate_config
    from policies.rules import ALL_RULES

    doc = allow(["cloudformation:CreateChangeSet", "cloudformation:ExecuteChangeSet"], "*")
    ignored = {"ignoredEscalationMethods": ["ExecuteCloudFormationChangeSet"]}
    assert any("ExecuteCloudFormationChangeSet" in m for m in _messages(doc))
    assert call(ESCALATION, t.POLICY, {"policy": policy_doc(doc)}, config=ignored) == []
    validate_config({"iam-no-privilege-escalation": ignored}, ALL_RULES)
    with pytest.raises(ConfigError, match="ignoredEscalationMethods"):
        validate_config({"iam-no-privilege-escalation": {"ignoredEscalationMethods": ["ExecuteChangeSetTypo"]}},
                        ALL_RULES)
    with pytest.raises(ConfigError, match="trustedAccounts"):
        validate_config({"iam-no-open-principal": {"trustedAccounts": ["12345"]}}, ALL_RULES)
