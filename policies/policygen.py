"""Which properties of which resource types hold an IAM policy document, read from provider SDKs.

    python -m policies.datagen --policy-sdk aws-native=/path/to/pulumi_aws_native   # also scan aws-native

The Python SDKs are generated from the providers' schemas and keep each property's type and
description, so the set is derived rather than listed: a property is policy-bearing when its name
says policy (`policy`, `accessPolicies`, `policyDocument`, `inlinePolicy`, `assumeRolePolicy`...),
its type is a JSON string or object (not a settings block, flag or list of names), and its
description calls it a policy document (IAM, JSON, resource-based, access or key policy). One
level of nested settings blocks is followed (aws-native `resourcePolicy.policyDocument`,
`policies[].policyDocument`). A few properties pass those tests but hold another grammar
(lifecycle rules, CloudFormation stack policies, log data-protection policies); they are listed in
NOT_IAM with the reason. A new type is covered by regenerating.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator, Optional

_TYPE_TOKEN = re.compile(r'@pulumi\.type_token\("(?P<token>[a-z-]+:[^"]+)"\)\nclass (?P<cls>\w+)\(pulumi\.CustomResource\)')
_INTERNAL_INIT = re.compile(r"def _internal_init\(__self__,(?P<params>.*?)\):", re.S)
_PARAM = re.compile(r"^\s*(?P<name>\w+)\s*:\s*(?P<type>.+?)\s*=\s*None,?\s*$", re.M)

_NAME = re.compile(r"^((policy|policies|policy_document|policy_text|access_policy|access_policies|key_policy|"
                   r"inline_policy|resource_policy|repository_policy|file_system_policy|assume_role_policy|"
                   r"assume_role_policy_document|delivery_destination_policy|policy_json)|\w+_policy_document)$")
_NOT_NAME = re.compile(r"lifecycle|scaling|retry|password|termination|routing|ssl|tls|security_policy|alpn|"
                       r"deletion|protection|snapshot|tiering|sign_in|update_policy|recrawl|schema_change|"
                       r"fair_share|idle|lf_tag|maintenance|mixed_instances|latency|creation_limit|pit_|"
                       r"content_policy|word_policy|topic_policy_config|grounding|sensitive|enterprise|engine|"
                       r"authorization_policy|cache_policy|origin_request|response_headers|placement|"
                       r"backup_policy|throughput|access_policy_id|rule_number|_arns?$|_ids?$|_names?$|_types?$")
_DOC = re.compile(r"polic(y|ies) document|IAM|JSON|resource-based|resource policy|access polic|key policy|"
                  r"trust polic|permissions|text of the policy|contents of the policy", re.I)
_NOT_DOC = re.compile(r"lifecycle|data protection|stack policy|Guard|scaling|retention", re.I)
# Session and scope-down policies only narrow a role's permissions: nothing in them is granted.
_RESTRICTING_DOC = re.compile(r"scopes? down|additional restrictions|session polic", re.I)

# Properties that pass the tests above but are not IAM policy grammar (token -> camelCase property: why).
NOT_IAM = {
    "aws:cloudformation/stack:Stack": {"policyBody": "CloudFormation stack policy (Update:* actions)"},
    "aws:cloudwatch/logAccountPolicy:LogAccountPolicy": {"policyDocument": "log data-protection/subscription policy"},
    "aws:cloudwatch/logDataProtectionPolicy:LogDataProtectionPolicy": {"policyDocument": "data-protection policy"},
    "aws:cloudwatch/logIndexPolicy:LogIndexPolicy": {"policyDocument": "field index policy"},
    "aws:cfg/organizationCustomPolicyRule:OrganizationCustomPolicyRule": {"policyText": "Guard rule text"},
    "aws:networkmanager/coreNetwork:CoreNetwork": {"basePolicyDocument": "core network routing policy"},
    "aws:networkmanager/coreNetworkPolicyAttachment:CoreNetworkPolicyAttachment": {
        "policyDocument": "core network routing policy"},
    "aws:ecr/lifecyclePolicy:LifecyclePolicy": {"policy": "image lifecycle rules"},
    "aws:iot/policyAttachment:PolicyAttachment": {"policy": "the name of an IoT policy"},
    "aws:sns/dataProtectionPolicy:DataProtectionPolicy": {"policy": "message data-protection policy"},
    "aws:opensearch/serverlessAccessPolicy:ServerlessAccessPolicy": {"policy": "OpenSearch Serverless data access rules"},
    "aws:opensearch/serverlessSecurityPolicy:ServerlessSecurityPolicy": {"policy": "encryption/network rules"},
    "aws:opensearch/serverlessLifecyclePolicy:ServerlessLifecyclePolicy": {"policy": "index retention rules"},
    "aws:verifiedaccess/endpoint:Endpoint": {"policyDocument": "Cedar policy"},
    "aws:verifiedaccess/group:Group": {"policyDocument": "Cedar policy"},
    "aws-native:opensearchserverless:AccessPolicy": {"policy": "OpenSearch Serverless data access rules"},
    "aws-native:opensearchserverless:SecurityPolicy": {"policy": "encryption/network rules"},
    "aws-native:opensearchserverless:LifecyclePolicy": {"policy": "index retention rules"},
    "aws-native:ec2:VerifiedAccessEndpoint": {"policyDocument": "Cedar policy"},
    "aws-native:ec2:VerifiedAccessGroup": {"policyDocument": "Cedar policy"},
    "aws-native:networkmanager:CoreNetwork": {"policyDocument": "core network routing policy"},
    "aws-native:logs:AccountPolicy": {"policyDocument": "log data-protection/subscription policy"},
}


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def _docs(source: str) -> dict[str, str]:
    """`:param <type> name: text` descriptions in a source file (first one per name)."""
    found: dict[str, str] = {}
    for match in re.finditer(r":param [^\n]*?\b(\w+): (.*?)(?=\n\s*:param|\n\s*\"\"\"|\n\s*\n|\s*\Z)", source, re.S):
        found.setdefault(match.group(1), " ".join(match.group(2).split()))
    return found


def _is_document_type(type_text: str) -> bool:
    text = type_text.replace(" ", "")
    if "Sequence[" in text and "PolicyDocument" not in text:
        return False
    if re.search(r"_builtins\.(bool|int|float)", text):
        return False
    return "Any" in text or "_builtins.str" in text or "PolicyDocument" in text


def _args_class(type_text: str) -> Optional[tuple[str, bool]]:
    """(settings block class name, is a list) of a property typed as a block."""
    match = re.search(r"'(\w+Args)'", type_text)
    if match is None:
        return None
    return match.group(1), "Sequence[" in type_text


_GENERIC_NAMES = frozenset({"policy", "policies", "policy_text", "policy_json"})


def _policy_like(name: str, type_text: str, doc: str) -> bool:
    """A policy-named JSON property; a generic name (`policy`) also needs a description calling it a
    policy document, or a JSON-object type (aws-native types documents as Any)."""
    if not (_NAME.search(name) and not _NOT_NAME.search(name) and _is_document_type(type_text)):
        return False
    if _NOT_DOC.search(doc) or _RESTRICTING_DOC.search(doc):
        return False
    return name not in _GENERIC_NAMES or bool(_DOC.search(doc)) or type_text.strip() in ("Any", "Optional[Any]")


def _kind(token: str, name: str) -> str:
    if name.startswith("assume_role_policy"):
        return "trust"
    module = token.split(":")[1].split("/")[0]
    return "identity" if module in ("iam", "ssoadmin", "sso") else "resource"


def _input_classes(package: Path) -> dict[str, dict[str, tuple[str, str]]]:
    """Settings block class -> {field: (type, description)} across a package's _inputs.py files."""
    classes: dict[str, dict[str, tuple[str, str]]] = {}
    for path in package.rglob("_inputs.py"):
        source = path.read_text(encoding="utf-8")
        for match in re.finditer(r"^class (\w+Args):\n    def __init__\(__self__, \*,(?P<params>.*?)\):\n"
                                 r"\s*\"\"\"(?P<body>.*?)\"\"\"", source, re.S | re.M):
            docs = _docs(match.group("body"))
            fields = {}
            for p in re.finditer(r"(\w+)\s*:\s*([^,\n]+(?:\[[^\n]*\])?)(?:\s*=\s*None)?,?\s*$", match.group("params"), re.M):
                fields[p.group(1)] = (p.group(2), docs.get(p.group(1), ""))
            classes[match.group(1)] = fields
    return classes


def scan(package: Path) -> Iterator[tuple[str, str, str]]:
    """(type token, engine property path, kind) for every policy-bearing property of an SDK package.
    Paths use camelCase names, `.` into a settings block and `[]` over a list of blocks."""
    blocks = _input_classes(package)
    for path in sorted(package.rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        if "@pulumi.type_token" not in source:
            continue
        docs = _docs(source)
        for match in _TYPE_TOKEN.finditer(source):
            token = match.group("token")
            init = _INTERNAL_INIT.search(source, match.end())
            if init is None:
                continue
            excluded = NOT_IAM.get(token, {})
            for p in _PARAM.finditer(init.group("params")):
                name, type_text = p.group("name"), p.group("type")
                if name in ("resource_name", "opts", "__props__"):
                    continue
                if _policy_like(name, type_text, docs.get(name, "")) and camel(name) not in excluded:
                    yield token, camel(name), _kind(token, name)
                    continue
                block = _args_class(type_text)
                if block is None or block[0] not in blocks:
                    continue
                for field, (field_type, field_doc) in blocks[block[0]].items():
                    if _policy_like(field, field_type, field_doc):
                        sep = "[]." if block[1] else "."
                        yield token, f"{camel(name)}{sep}{camel(field)}", _kind(token, field)


def render(sources: dict[str, str], found: dict[str, list[tuple[str, str, str]]]) -> dict:
    """The data file: per provider the SDK it was read from and {type: [[path, kind], ...]}."""
    out: dict = {"generatedBy": "python -m policies.datagen", "notIam": NOT_IAM, "providers": {}}
    for provider, rows in sorted(found.items()):
        types: dict[str, list[list[str]]] = {}
        for token, path, kind in rows:
            if [path, kind] not in types.setdefault(token, []):
                types[token].append([path, kind])
        out["providers"][provider] = {"sdk": sources[provider], "types": dict(sorted(types.items()))}
    return out
