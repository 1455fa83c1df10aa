"""Pulumi mocks that behave like the engine closely enough to export a stack offline.

Two pieces, used by the tests and by ``tools.preview`` alike:

* ``PlatformMocks`` answers resource registrations with realistic outputs (ARNs carrying the account
  and region, ids, URLs) from one table of templates per resource type, and answers the provider
  functions the program calls (caller identity, region, availability zones, partition).
* ``RecordingMonitor`` subclasses the stock mock monitor to keep what a ``pulumi stack export``
  needs and the stock one drops: real URNs (the whole parent-type chain), parent, provider,
  dependencies, the raw wire inputs (secrets stay marked) and the outputs registered by components
  and by the stack.

Outputs are deterministic (ids derive from the resource's URN) so two previews of the same config
export identical files.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import pulumi
from google.protobuf import json_format
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc
from pulumi.runtime.proto import resource_pb2
from pulumi.runtime.settings import get_project, get_stack

ACCOUNT_ID = "123456789012"
SECRET_SIG = rpc._special_sig_key  # "4dabf18193072939515e22adb298388d"
SECRET_VALUE_SIG = rpc._special_secret_sig


def _hex(seed: str, n: int) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()[:n]


@dataclass
class Registration:
    urn: str
    type: str
    name: str
    custom: bool
    parent: str
    provider: str
    dependencies: list[str]
    property_dependencies: dict[str, list[str]]
    protect: bool
    remote: bool
    inputs: dict  # wire form: secrets keep their signature wrapper
    id: str = ""
    outputs: dict = field(default_factory=dict)
    options: dict = field(default_factory=dict)

    @property
    def plain_inputs(self) -> dict:
        return unwrap_secrets(self.inputs)


def unwrap_secrets(value: Any) -> Any:
    """Replace wire-format secret wrappers by their values (for assertions)."""
    if isinstance(value, dict):
        if value.get(SECRET_SIG) == SECRET_VALUE_SIG:
            return unwrap_secrets(value.get("value"))
        return {k: unwrap_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap_secrets(v) for v in value]
    return value


# ---------------------------------------------------------------------------------------------
# Output templates: one row per resource type, as stelvio's tests keep them.
# Each takes (name, physical_name, inputs, region, account, hexid) and returns extra outputs.
# ---------------------------------------------------------------------------------------------
Template = Callable[[str, str, dict, str, str, str], dict]


def _arn(service: str, resource: str, regional: bool = True) -> Template:
    return lambda n, p, i, r, a, h: {"arn": f"arn:aws:{service}:{r if regional else ''}:{a}:{resource.format(p=p, h=h, **_flat(i))}"}


def _flat(inputs: dict) -> dict:
    return {k: v for k, v in inputs.items() if isinstance(v, (str, int))}


def _user_pool(n, p, i, r, a, h):
    pid = f"{r}_{h[:9]}"
    return {"id": pid, "arn": f"arn:aws:cognito-idp:{r}:{a}:userpool/{pid}",
            "endpoint": f"cognito-idp.{r}.amazonaws.com/{pid}"}


def _table(n, p, i, r, a, h):
    arn = f"arn:aws:dynamodb:{r}:{a}:table/{p}"
    out = {"arn": arn, "streamArn": f"{arn}/stream/2026-01-01T00:00:00.000", "streamLabel": "2026-01-01T00:00:00.000"}
    out["replicas"] = [dict(rep, arn=f"arn:aws:dynamodb:{rep.get('regionName')}:{a}:table/{p}")
                       for rep in i.get("replicas", []) or []]
    return out


def _function(n, p, i, r, a, h):
    arn = f"arn:aws:lambda:{r}:{a}:function:{p}"
    return {"arn": arn, "qualifiedArn": f"{arn}:$LATEST", "version": "$LATEST",
            "invokeArn": f"arn:aws:apigateway:{r}:lambda:path/2015-03-31/functions/{arn}/invocations"}


def _task_definition(n, p, i, r, a, h):
    family = i.get("family", p)
    base = f"arn:aws:ecs:{r}:{a}:task-definition/{family}"
    return {"arn": f"{base}:1", "arnWithoutRevision": base, "revision": 1}


def _graphql_api(n, p, i, r, a, h):
    host = f"{h[:26]}"
    return {"id": h[:26], "arn": f"arn:aws:appsync:{r}:{a}:apis/{h[:26]}",
            "uris": {"GRAPHQL": f"https://{host}.appsync-api.{r}.amazonaws.com/graphql",
                     "REALTIME": f"wss://{host}.appsync-realtime-api.{r}.amazonaws.com/graphql"}}


def _awsx_vpc(n, p, i, r, a, h):
    azs = int(i.get("numberOfAvailabilityZones") or len(i.get("availabilityZoneNames") or []) or 3)
    return {
        "vpcId": f"vpc-{h[:17]}",
        "publicSubnetIds": [f"subnet-{_hex(h + 'pub' + str(k), 17)}" for k in range(azs)],
        "privateSubnetIds": [f"subnet-{_hex(h + 'prv' + str(k), 17)}" for k in range(azs)],
        "isolatedSubnetIds": [],
    }


def _agent_runtime(n, p, i, r, a, h):
    rid = f"{i.get('agentRuntimeName', p)}-{h[:10]}"
    return {"agentRuntimeId": rid, "agentRuntimeArn": f"arn:aws:bedrock-agentcore:{r}:{a}:runtime/{rid}",
            "agentRuntimeVersion": "1", "workloadIdentityDetails": [{"workloadIdentityArn": (
                f"arn:aws:bedrock-agentcore:{r}:{a}:workload-identity-directory/default/workload-identity/{rid}")}]}

TEMPLATES: dict[str, Template] = {
    "aws:iam/role:Role": lambda n, p, i, r, a, h: {"arn": f"arn:aws:iam::{a}:role/{i.get('path', '/').strip('/') + '/' if i.get('path', '/') != '/' else ''}{p}", "uniqueId": f"AROA{h[:17].upper()}"},
    "aws:iam/policy:Policy": lambda n, p, i, r, a, h: {"arn": f"arn:aws:iam::{a}:policy/{p}", "policyId": f"ANPA{h[:17].upper()}"},
    "aws:dynamodb/table:Table": _table,
    "aws:lambda/function:Function": _function,
    "aws:lambda/layerVersion:LayerVersion": lambda n, p, i, r, a, h: {
        "arn": f"arn:aws:lambda:{r}:{a}:layer:{i.get('layerName', p)}:1",
        "layerArn": f"arn:aws:lambda:{r}:{a}:layer:{i.get('layerName', p)}", "version": "1"},
    "aws:ecs/cluster:Cluster": _arn("ecs", "cluster/{p}"),
    "aws:ecs/taskDefinition:TaskDefinition": _task_definition,
    "aws:ecs/service:Service": _arn("ecs", "service/{p}"),
    "aws:ecr/repository:Repository": lambda n, p, i, r, a, h: {"arn": f"arn:aws:ecr:{r}:{a}:repository/{p}", "repositoryUrl": f"{a}.dkr.ecr.{r}.amazonaws.com/{p}", "registryId": a},
    "aws:cloudwatch/logGroup:LogGroup": _arn("logs", "log-group:{p}"),
    "aws:cloudwatch/eventRule:EventRule": _arn("events", "rule/{p}"),
    "aws:cloudwatch/metricAlarm:MetricAlarm": _arn("cloudwatch", "alarm:{p}"),
    "aws:cloudwatch/dashboard:Dashboard": lambda n, p, i, r, a, h: {"dashboardArn": f"arn:aws:cloudwatch::{a}:dashboard/{i.get('dashboardName', p)}"},
    "aws:sns/topic:Topic": _arn("sns", "{p}"),
    "aws:sqs/queue:Queue": lambda n, p, i, r, a, h: {"arn": f"arn:aws:sqs:{r}:{a}:{p}", "url": f"https://sqs.{r}.amazonaws.com/{a}/{p}"},
    "aws:kms/key:Key": lambda n, p, i, r, a, h: {"id": f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}", "arn": f"arn:aws:kms:{r}:{a}:key/{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"},
    "aws:secretsmanager/secret:Secret": _arn("secretsmanager", "secret:{p}-{h}"),
    "aws:cognito/userPool:UserPool": _user_pool,
    "aws:cognito/userPoolClient:UserPoolClient": lambda n, p, i, r, a, h: {"id": h[:26]},
    "aws:cognito/userPoolDomain:UserPoolDomain": lambda n, p, i, r, a, h: {"cloudfrontDistribution": f"d{h[:13]}.cloudfront.net"},
    "aws:appsync/graphQLApi:GraphQLApi": _graphql_api,
    "aws:appsync/apiKey:ApiKey": lambda n, p, i, r, a, h: {"key": f"da2-{h[:26]}"},
    "aws:appsync/dataSource:DataSource": lambda n, p, i, r, a, h: {"arn": f"arn:aws:appsync:{r}:{a}:apis/{i.get('apiId')}/datasources/{p}"},
    "aws:appsync/function:Function": lambda n, p, i, r, a, h: {"functionId": h[:26], "arn": f"arn:aws:appsync:{r}:{a}:apis/{i.get('apiId')}/functions/{h[:26]}"},
    "aws:appsync/resolver:Resolver": lambda n, p, i, r, a, h: {"arn": f"arn:aws:appsync:{r}:{a}:apis/{i.get('apiId')}/types/{i.get('type')}/resolvers/{i.get('field')}"},
    "aws:budgets/budget:Budget": lambda n, p, i, r, a, h: {"arn": f"arn:aws:budgets::{a}:budget/{i.get('name', p)}"},
    "aws:budgets/budgetAction:BudgetAction": lambda n, p, i, r, a, h: {"id": f"{a}:{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}:{i.get('budgetName')}", "actionId": f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}", "arn": f"arn:aws:budgets::{a}:budget/{i.get('budgetName')}/action/{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"},
    "aws:ec2/securityGroup:SecurityGroup": lambda n, p, i, r, a, h: {"id": f"sg-{h[:17]}", "arn": f"arn:aws:ec2:{r}:{a}:security-group/sg-{h[:17]}"},
    "aws:efs/fileSystem:FileSystem": lambda n, p, i, r, a, h: {"id": f"fs-{h[:17]}", "arn": f"arn:aws:elasticfilesystem:{r}:{a}:file-system/fs-{h[:17]}", "dnsName": f"fs-{h[:17]}.efs.{r}.amazonaws.com"},
    "aws:efs/mountTarget:MountTarget": lambda n, p, i, r, a, h: {"id": f"fsmt-{h[:17]}", "networkInterfaceId": f"eni-{h[17:34]}", "fileSystemArn": f"arn:aws:elasticfilesystem:{r}:{a}:file-system/{i.get('fileSystemId')}"},
    "aws:efs/fileSystemPolicy:FileSystemPolicy": lambda n, p, i, r, a, h: {"id": i.get("fileSystemId") or f"fs-{h[:17]}"},
    "aws:ec2/vpcEndpoint:VpcEndpoint": lambda n, p, i, r, a, h: {"id": f"vpce-{h[:17]}", "arn": f"arn:aws:ec2:{r}:{a}:vpc-endpoint/vpce-{h[:17]}"},
    "aws:ec2/flowLog:FlowLog": lambda n, p, i, r, a, h: {"id": f"fl-{h[:17]}"},
    "aws:lb/loadBalancer:LoadBalancer": lambda n, p, i, r, a, h: {"arn": f"arn:aws:elasticloadbalancing:{r}:{a}:loadbalancer/app/{p}/{h[:16]}", "dnsName": f"{p}-{h[:10]}.{r}.elb.amazonaws.com", "zoneId": "Z35SXDOTRQ7X7K"},
    "aws:lb/targetGroup:TargetGroup": lambda n, p, i, r, a, h: {"arn": f"arn:aws:elasticloadbalancing:{r}:{a}:targetgroup/{p}/{h[:16]}"},
    # As AWS: listener/app/<lb name>/<lb id>/<listener id>, under its load balancer's ARN.
    "aws:lb/listener:Listener": lambda n, p, i, r, a, h: {"arn": (i.get("loadBalancerArn") or f"arn:aws:elasticloadbalancing:{r}:{a}:loadbalancer/app/{p}/{h[16:32]}").replace(":loadbalancer/", ":listener/", 1) + f"/{h[:16]}"},
    "aws:costexplorer/anomalyMonitor:AnomalyMonitor": _arn("ce", "anomalymonitor/{h}", regional=False),
    "aws:costexplorer/anomalySubscription:AnomalySubscription": _arn("ce", "anomalysubscription/{h}", regional=False),
    # AgentCore: ids are <name>-<10 characters>, as the service returns them.
    "aws:bedrock/agentcoreAgentRuntime:AgentcoreAgentRuntime": _agent_runtime,
    "aws:bedrock/agentcoreAgentRuntimeEndpoint:AgentcoreAgentRuntimeEndpoint": lambda n, p, i, r, a, h: {"agentRuntimeEndpointArn": f"arn:aws:bedrock-agentcore:{r}:{a}:runtime/{i.get('agentRuntimeId')}/runtime-endpoint/{i.get('name', p)}", "agentRuntimeArn": f"arn:aws:bedrock-agentcore:{r}:{a}:runtime/{i.get('agentRuntimeId')}", "agentRuntimeVersion": "1"},
    "aws:bedrock/agentcoreMemory:AgentcoreMemory": lambda n, p, i, r, a, h: {"id": f"{p}-{h[:10]}", "arn": f"arn:aws:bedrock-agentcore:{r}:{a}:memory/{p}-{h[:10]}"},
    "aws:bedrock/guardrail:Guardrail": lambda n, p, i, r, a, h: {"guardrailId": h[:12], "guardrailArn": f"arn:aws:bedrock:{r}:{a}:guardrail/{h[:12]}", "version": "DRAFT", "status": "READY"},
    "aws:bedrock/guardrailVersion:GuardrailVersion": lambda n, p, i, r, a, h: {"version": "1"},
    "awsx:ec2:Vpc": _awsx_vpc,
}

# Resources whose physical name input is called something other than `name`.
NAME_INPUTS = {
    "aws:ecs/taskDefinition:TaskDefinition": "family",
    "aws:cloudwatch/dashboard:Dashboard": "dashboardName",
    "aws:cloudwatch/metricAlarm:MetricAlarm": "name",
    "aws:bedrock/agentcoreAgentRuntime:AgentcoreAgentRuntime": "agentRuntimeName",
}

# Components and providers whose inputs are not echoed back as outputs.
NO_ECHO = {"awsx:ec2:Vpc"}


def _provider_default_tags(value: Any) -> dict:
    """A provider's defaultTags input (a JSON string, as providers receive nested config) -> tags."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    tags = value.get("tags") if isinstance(value, dict) else None
    return dict(tags) if isinstance(tags, dict) else {}


def _in_partition(value: Any, partition: str) -> Any:
    """The templates write ARNs in the aws partition; AWS writes the region's (arn:aws-cn:..., ...)."""
    if isinstance(value, str):
        return f"arn:{partition}:" + value[len("arn:aws:"):] if value.startswith("arn:aws:") else value
    if isinstance(value, dict):
        return {k: _in_partition(v, partition) for k, v in value.items()}
    if isinstance(value, list):
        return [_in_partition(v, partition) for v in value]
    return value


class PlatformMocks(pulumi.runtime.Mocks):
    def __init__(self, region: str = "us-east-1", account: str = ACCOUNT_ID):
        from components.config import partition_of

        self.region = region
        self.account = account
        try:
            self.partition = partition_of(region)
        except ValueError:
            self.partition = "aws"  # an invalid region fails config validation, not here
        self._subnet_vpcs: dict[str, str] = {}  # what AWS knows: the VPC of every subnet
        self._default_tags: dict[str, dict] = {}  # provider id -> its default tags

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        inputs = dict(args.inputs)
        if args.typ.startswith("pulumi:providers:"):
            # The engine gives providers UUIDs; derive one so exports are stable.
            h = _hex(f"{args.typ}::{args.name}", 32)
            pid = f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"
            self._default_tags[pid] = _provider_default_tags(inputs.get("defaultTags"))
            return pid, inputs
        region = inputs.get("region") or self.region
        h = _hex(f"{args.typ}::{args.name}", 32)
        physical = inputs.get(NAME_INPUTS.get(args.typ, "name")) or f"{args.name}-{h[:7]}"
        outputs = {} if args.typ in NO_ECHO else dict(inputs)
        if args.typ not in NO_ECHO and "name" not in outputs and args.typ not in NAME_INPUTS:
            outputs["name"] = physical
        template = TEMPLATES.get(args.typ)
        if template is not None:
            made = template(args.name, physical, inputs, region, self.account, h)
            outputs.update(made if self.partition == "aws" else _in_partition(made, self.partition))
        elif args.custom and args.typ.startswith("aws:"):
            service = args.typ.split(":")[1].split("/")[0]
            outputs.setdefault("arn", f"arn:{self.partition}:{service}:{region}:{self.account}:{physical}")
        if args.typ == "awsx:ec2:Vpc":
            for key in ("publicSubnetIds", "privateSubnetIds", "isolatedSubnetIds"):
                self._subnet_vpcs.update(dict.fromkeys(outputs.get(key) or [], outputs["vpcId"]))
        if args.typ == "aws:lb/loadBalancer:LoadBalancer":
            vpcs = {self._subnet_vpcs.get(subnet) for subnet in inputs.get("subnets") or []}
            if len(vpcs) == 1 and None not in vpcs:
                outputs["vpcId"] = vpcs.pop()
        if "tags" in inputs or args.typ in TEMPLATES:
            # As AWS reports it: the provider's default tags, overridden by the resource's own.
            defaults = self._default_tags.get((args.provider or "").rsplit("::", 1)[-1], {})
            outputs["tagsAll"] = {**defaults, **dict(inputs.get("tags") or {})}
        rid = outputs.pop("id", None) or (physical if args.custom else "")
        return rid, outputs

    def call(self, args: pulumi.runtime.MockCallArgs):
        token = args.token
        if token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {"accountId": self.account, "arn": f"arn:{self.partition}:iam::{self.account}:user/offline-preview",
                    "userId": "AIDAOFFLINEPREVIEW", "id": self.account}, []
        if token == "aws:index/getRegion:getRegion":
            region = args.args.get("region") or self.region
            return {"region": region, "id": region, "endpoint": f"ec2.{region}.amazonaws.com",
                    "description": region}, []
        if token == "aws:index/getPartition:getPartition":
            cn = self.partition == "aws-cn"
            return {"partition": self.partition, "dnsSuffix": "amazonaws.com.cn" if cn else "amazonaws.com",
                    "id": self.partition, "reverseDnsPrefix": "cn.com.amazonaws" if cn else "com.amazonaws"}, []
        if token == "aws:index/getAvailabilityZones:getAvailabilityZones":
            region = args.args.get("region") or self.region
            names = [f"{region}{s}" for s in "abcdef"]
            return {"names": names, "zoneIds": [f"use1-az{k}" for k in range(1, 7)], "id": region,
                    "region": region, "state": "available"}, []
        raise NotImplementedError(f"offline preview has no mock for provider function {token}")


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """The stock mock monitor plus what an export needs (see module docstring)."""

    def __init__(self, mocks: pulumi.runtime.Mocks):
        super().__init__(mocks)
        self.registrations: dict[str, Registration] = {}
        self.order: list[str] = []
        self.stack_urn = ""
        self.stack_outputs: dict = {}

    # Real URNs chain every ancestor's type: parent$child$grandchild. The stack itself is not part
    # of the chain.
    def make_urn(self, parent: str, type_: str, name: str) -> str:
        if parent and parent != self.stack_urn:
            type_ = parent.split("::")[2] + "$" + type_
        return "urn:pulumi:" + "::".join([get_stack(), get_project(), type_, name])

    def RegisterResource(self, request):
        if request.type == "pulumi:pulumi:Stack":
            self.stack_urn = super().make_urn("", request.type, request.name)
            return resource_pb2.RegisterResourceResponse(urn=self.stack_urn)
        response = super().RegisterResource(request)
        urn = response.urn
        reg = Registration(
            urn=urn,
            type=request.type,
            name=request.name,
            custom=bool(request.custom),
            parent=request.parent or self.stack_urn,
            provider=request.provider,
            dependencies=list(request.dependencies),
            property_dependencies={k: list(v.urns) for k, v in request.propertyDependencies.items()},
            protect=bool(request.protect),
            remote=bool(request.remote),
            inputs=json_format.MessageToDict(request.object),
            id=response.id,
            outputs=json_format.MessageToDict(response.object),
            options={
                "ignoreChanges": list(request.ignoreChanges),
                "retainOnDelete": bool(request.retainOnDelete),
                "deleteBeforeReplace": bool(request.deleteBeforeReplace),
            },
        )
        if urn in self.registrations:
            raise ValueError(f"duplicate resource URN {urn}: two resources share a type and name")
        self.registrations[urn] = reg
        self.order.append(urn)
        return response

    def RegisterResourceOutputs(self, request):
        outputs = json_format.MessageToDict(request.outputs)
        if request.urn == self.stack_urn:
            self.stack_outputs = outputs
        elif request.urn in self.registrations:
            reg = self.registrations[request.urn]
            if not reg.custom:
                reg.outputs = outputs
        return super().RegisterResourceOutputs(request)

    # Conveniences for tests.
    def of_type(self, type_: str) -> list[Registration]:
        return [self.registrations[u] for u in self.order if self.registrations[u].type == type_]

    def named(self, name: str) -> Registration:
        for u in self.order:
            if self.registrations[u].name == name:
                return self.registrations[u]
        raise KeyError(f"no resource named {name!r}; have {sorted(r.name for r in self.registrations.values())}")

    def children(self, parent_urn: str) -> list[Registration]:
        return [r for r in self.registrations.values() if r.parent == parent_urn]


def json_dumps(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True)
