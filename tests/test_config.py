"""Stack config validation: every bad value fails with the stack file, the key and the reason."""

from __future__ import annotations

import copy
import json

import pytest
import yaml

from components import config
from tools import program


def _dev_raw(**changes):
    """dev's config with some sections replaced; a change of None deletes the key."""
    raw, secrets = program.stack_config("dev")
    for key, value in changes.items():
        full = f"aiplatform:{key}" if ":" not in key else key
        if value is None:
            raw.pop(full, None)
        else:
            raw[full] = value if isinstance(value, str) else json.dumps(value)
    return raw, secrets


def _section(name):
    raw, _ = program.stack_config("dev")
    return json.loads(raw[f"aiplatform:{name}"])


def _with(section, **values):
    data = copy.deepcopy(_section(section))
    for path, value in values.items():
        node = data
        keys = path.split("__")
        for k in keys[:-1]:
            node = node.setdefault(k, {})
        if value is ...:
            node.pop(keys[-1], None)
        else:
            node[keys[-1]] = value
    return {section: data}


BAD = [
    (_with("network", azs=9), "Pulumi.dev.yaml: network.azs must be between 1 and 6, got 9"),
    (_with("network", azs="two"), "network.azs must be a whole number, got 'two'"),
    (_with("network", natStrategy="double"), "network.natStrategy must be one of none, single, onePerAz, got 'double'"),
    (_with("network", natStrategy=...), "network.natStrategy is required"),
    (_with("network", cidr="10.0.0.0/8"), "network.cidr must have a prefix length between /16 and /22, got /8"),
    (_with("network", cidr="8.8.0.0/16"), "network.cidr must be a private (RFC 1918) range"),
    (_with("network", cidr="10.0.0.1/16"), "network.cidr must be an IPv4 network in CIDR notation"),
    (_with("network", flowLogs__enabled=True, flowLogs__retentionDays=10),
     "network.flowLogs.retentionDays must be one of CloudWatch's retention values"),
    (_with("network", natStratgy="none"), "network.natStratgy is not a known setting"),
    ({"logRetentionDays": 10}, "logRetentionDays must be one of CloudWatch's retention values"),
    ({"logRetentionDays": None}, "logRetentionDays is required"),
    (_with("data", replicaRegions=["us-east-1"]), "data.replicaRegions must not contain the primary region us-east-1"),
    (_with("data", replicaRegions=["eu-west-1", "eu-west-1"]), "data.replicaRegions lists 'eu-west-1' twice"),
    (_with("data", replicaRegions=["Tokyo"]), "data.replicaRegions.0 must be an AWS region name"),
    (_with("data", deletionProtection=...), "data.deletionProtection is required"),
    (_with("data", deletionProtection="yes"), "data.deletionProtection must be true or false, got 'yes'"),
    (_with("data", encryption="KMS"), "data.encryption must be one of AWS_OWNED, AWS_MANAGED, CUSTOMER_MANAGED"),
    (_with("data", encryption=...), "data.encryption is required"),
    (_with("data", encryption="CUSTOMER_MANAGED"), "data.kmsKeyArn is required when encryption is CUSTOMER_MANAGED"),
    (_with("data", kmsKeyArn="arn:aws:kms:us-east-1:123456789012:key/abc"),
     "data.kmsKeyArn only applies when encryption is CUSTOMER_MANAGED, got encryption AWS_OWNED"),
    (_with("data", encryption="CUSTOMER_MANAGED", replicaRegions=["eu-west-1"],
           kmsKeyArn="arn:aws:kms:us-east-1:123456789012:key/abc"),
     "data.replicaKmsKeyArns must name a KMS key for every replica region when kmsKeyArn is set; missing eu-west-1"),
    (_with("data", billingMode="PROVISIONED"), "data.billingMode PROVISIONED needs readCapacity and writeCapacity"),
    (_with("data", billingMode="PROVISIONED", readCapacity=5, writeCapacity=5, replicaRegions=["eu-west-1"]),
     "data.billingMode PROVISIONED cannot be combined with replicaRegions"),
    (_with("data", readCapacity=5), "data.readCapacity only applies when billingMode is PROVISIONED"),
    (_with("identity", mfa="OFF"), "identity.mfa must not be OFF"),
    (_with("identity", groups=["USER"]), "identity.groups must include ADMIN"),
    (_with("identity", defaultGroup="ADMIN"), "identity.defaultGroup must not be ADMIN"),
    (_with("identity", defaultGroup="GUEST"), "identity.defaultGroup must be one of the groups"),
    (_with("identity", threatProtection="MAX"), "identity.threatProtection must be one of OFF, AUDIT, ENFORCED"),
    (_with("identity", callbackUrls=["http://app.example.com/cb"]), "identity.callbackUrls.0 must be an https URL"),
    (_with("identity", domainPrefix="my-cognito-app"), "identity.domainPrefix must not contain 'aws' or 'cognito'"),
    (_with("identity", google={"clientId": "abc"}, domainPrefix="example-dev"),
     "aiplatform:googleClientSecret is required when identity.google is set"),
    (_with("costGuard", alertEmails=[f"a{i}@example.com" for i in range(11)]),
     "costGuard.alertEmails must have between 1 and 10 entries, got 11"),
    (_with("costGuard", alertEmails=["not-an-email"]), "costGuard.alertEmails.0 must be an e-mail address"),
    (_with("costGuard", monthlyBudgetUsd=0), "costGuard.monthlyBudgetUsd must be between 1 and 1e+06, got 0"),
    (_with("costGuard", actionThresholdPercent=120), "costGuard.actionThresholdPercent must be between 50 and 100"),
    (_with("costGuard", anomaly=...), "costGuard.anomaly is required"),
    (_with("sessions", cpu=1024, memory=1024),
     "sessions.memory with cpu: memory 1024 MiB is not valid with cpu 1024 (allowed 2048-8192 MiB in steps of 1024)"),
    (_with("sessions", cpu=300), "sessions.memory with cpu: cpu 300 is not a Fargate size"),
    (_with("sessions", sizePresets={"huge": {"cpu": 16384, "memory": 30000}}), "sessions.sizePresets.huge memory 30000 MiB is not valid with cpu 16384"),
    (_with("sessions", stopTimeoutSeconds=300), "sessions.stopTimeoutSeconds must be between 30 and 120, got 300"),
    (_with("sessions", allowedCidrs=["0.0.0.0/0"]), "sessions.allowedCidrs must not open the IDE to the whole internet"),
    (_with("sessions", allowedCidrs=[]), "sessions.allowedCidrs is required when editorAccess is public"),
    (_with("sessions", editorAccess="private", allowedCidrs=...), "sessions.certificateArn is required when editorAccess is private"),
    (_with("sessions", capacityStrategy=[{"capacityProvider": "EC2", "weight": 1}]),
     "sessions.capacityStrategy.0.capacityProvider must be one of FARGATE, FARGATE_SPOT, got 'EC2'"),
    (_with("sessions", capacityStrategy=[{"capacityProvider": "FARGATE_SPOT", "weight": 0}]),
     "sessions.capacityStrategy needs at least one provider with a weight above 0"),
    (_with("sessions", **{"lambda": {"memoryMb": 64}}),
     "sessions.lambda.memoryMb must be between 128 and 10240, got 64"),
    (_with("sessions", **{"lambda": {"timeoutSeconds": 901}}), "sessions.lambda.timeoutSeconds must be between 1 and 900"),
    (_with("sessions", **{"lambda": {"timeoutSeconds": 60}}), "sessions.lambda.timeoutSeconds gives the API function 60 s; "
                                                              "AppSync waits at most 30 s for a Lambda resolver"),
    (_with("sessions", **{"lambda": {"timeoutSeconds": {"reaper": 901}}}), "sessions.lambda.timeoutSeconds.reaper must be between 1 and 900"),
    (_with("sessions", **{"lambda": {"timeoutSeconds": {"raeper": 60}}}), "raeper"),
    (_with("sessions", maxLifetimeHours=48), "sessions.maxLifetimeHours must be less than sessionTtlHours (24) so the "
                                             "reaper closes a session before its item may expire, got 48"),
    (_with("sessions", maxLifetimeHours=24), "sessions.maxLifetimeHours must be less than sessionTtlHours (24)"),
    (_with("sessions", image="ecr:"), "sessions.image 'ecr:' names this stack's ECR repository, but '' is not a valid "
                                      "image tag: 1-128 letters, digits, '_', '.' or '-', not starting with '.' or '-'"),
    (_with("sessions", image="ecr:-rc1"), "sessions.image 'ecr:-rc1' names this stack's ECR repository, but '-rc1' is "
                                          "not a valid image tag"),
    (_with("sessions", image="ecr:.hidden"), "but '.hidden' is not a valid image tag"),
    (_with("sessions", image="ecr:4.96:4"), "but '4.96:4' is not a valid image tag"),
    (_with("sessions", image="ecr:sha256@abc"), "but 'sha256@abc' is not a valid image tag"),
    (_with("sessions", image="ecr:" + "a" * 129), "is not a valid image tag: 1-128 letters"),
    (_with("sessions", image="ecr:v 1"), "sessions.image must be a container image reference (or ecr:<tag> for this "
                                         "stack's ECR repository), got 'ecr:v 1'"),
    (_with("sessions", **{"lambda": {"reservedConcurrency": 0}}),
     "sessions.lambda.reservedConcurrency must be between 1 and 1000, got 0"),
    (_with("sessions", **{"lambda": {"reservedConcurrency": "many"}}),
     "sessions.lambda.reservedConcurrency must be a whole number, got 'many'"),
    (_with("sessions", **{"lambda": {"reservedConcurrency": {"taskstate": 5}}}),
     "sessions.lambda.reservedConcurrency.taskstate is not a known setting (known: api, reaper, taskState)"),
    (_with("sessions", **{"lambda": {"reservedConcurrency": {"task-state": 5}}}),
     "sessions.lambda.reservedConcurrency.task-state is not a known setting"),
    (_with("sessions", **{"lambda": {"reservedConcurrency": {"reaper": 0}}}),
     "sessions.lambda.reservedConcurrency.reaper must be between 1 and 1000, got 0"),
    (_with("sessions", **{"lambda": {"reservedConcurrency": {"api": True}}}),
     "sessions.lambda.reservedConcurrency.api must be a whole number, got True"),
    (_with("sessions", reaperSchedule="hourly"), "sessions.reaperSchedule must be an EventBridge rate(...) or cron(...) expression"),
    (_with("sessions", reaperSchedule="rate(1 hour)"), "sessions.reaperSchedule must be rate(N minutes) with N from 1 to 10"),
    (_with("sessions", reaperSchedule="cron(0 * * * ? *)"), "sessions.reaperSchedule must be rate(N minutes) with N from 1 to 10"),
    (_with("sessions", defaultSize="xl"), "sessions.defaultSize must be one of the sizePresets"),
    ({"tags": {"environment": "x"}}, "tags.environment is set by the project itself"),
    ({"tags": {"aws:owner": "x"}}, "tags.aws:owner is not a valid tag key"),
    ({"tags": {"team": "*{}"}}, "tags.team has characters AWS refuses in a tag value"),
    ({"tags": {f"k{i}": "v" for i in range(41)}}, "tags may hold at most 40 tags"),
    ({"networking": {}}, "networking is not a known setting"),
    ({"aws:region": "moon-1"}, "aws:region must be an AWS region name, got 'moon-1'"),
    ({"api": None}, "api is required"),
    (_with("api", fieldLogLevel=...), "api.fieldLogLevel is required"),
    (_with("api", fieldLogLevel="VERBOSE"), "api.fieldLogLevel must be one of NONE, ERROR, INFO, DEBUG, ALL, got 'VERBOSE'"),
    (_with("api", fieldLogLevel="ALL"), "api.fieldLogLevel must not be ALL: it logs every field of every request"),
    (_with("api", introspection=...), "api.introspection is required"),
    (_with("api", introspection="off"), "api.introspection must be true or false, got 'off'"),
    (_with("api", queryDepthLimit=0), "api.queryDepthLimit must be between 1 and 75, got 0"),
    (_with("api", queryDepthLimit=76), "api.queryDepthLimit must be between 1 and 75, got 76"),
    (_with("api", resolverCountLimit=10001), "api.resolverCountLimit must be between 1 and 10000, got 10001"),
    (_with("api", xray="yes"), "api.xray must be true or false, got 'yes'"),
    (_with("api", apiKey=...), "api.apiKey is required"),
    (_with("api", apiKey={}), "api.apiKey.enabled is required"),
    (_with("api", apiKey__enabled=True, apiKey__expiresInDays=31), "api.apiKey.expiresInDays must be between 3 and 30, got 31"),
    (_with("api", apiKey__enabled=True, apiKey__expiresInDays=1), "api.apiKey.expiresInDays must be between 3 and 30, got 1"),
    (_with("api", apiKey__enabled=True, apiKey__expires="2030-01-01"), "api.apiKey.expires is not a known setting"),
    (_with("api", introspektion=True), "api.introspektion is not a known setting"),
    ({"observability": None}, "observability is required"),
    (_with("observability", alarmEmails=...), "observability.alarmEmails is required"),
    (_with("observability", alarmEmails=[f"o{i}@example.com" for i in range(11)]),
     "observability.alarmEmails must have between 1 and 10 entries, got 11"),
    (_with("observability", alarmEmails=["pager"]), "observability.alarmEmails.0 must be an e-mail address"),
    (_with("observability", lambdaErrors__threshold=0),
     "observability.lambdaErrors.threshold must be between 1 and 1e+06, got 0"),
    (_with("observability", lambdaDurationP95Percent__threshold=150),
     "observability.lambdaDurationP95Percent.threshold must be between 1 and 100, got 150"),
    (_with("observability", appsyncLatencyP95Ms__threshold=60000),
     "observability.appsyncLatencyP95Ms.threshold must be between 1 and 30000, got 60000"),
    (_with("observability", lambdaErrors__periodSeconds=90),
     "observability.lambdaErrors.periodSeconds must be a multiple of 60"),
    (_with("observability", lambdaThrottles__periodSeconds=30),
     "observability.lambdaThrottles.periodSeconds must be between 60 and 86400, got 30"),
    (_with("observability", sessionFailures__periodSeconds=900, sessionFailures__evaluationPeriods=100),
     "observability.sessionFailures.evaluationPeriods x periodSeconds must not exceed 86400 s "
     "(CloudWatch's limit for periods under an hour), got 100 x 900 = 90000"),
    (_with("observability", spotInterruptions__periodSeconds=86400, spotInterruptions__evaluationPeriods=8),
     "observability.spotInterruptions.evaluationPeriods x periodSeconds must not exceed 604800 s"),
    (_with("observability", appsyncLatencyP95Ms__evaluationPeriods=3, appsyncLatencyP95Ms__datapointsToAlarm=4),
     "observability.appsyncLatencyP95Ms.datapointsToAlarm must be between 1 and 3, got 4"),
    (_with("observability", dynamodbThrottles__treshold=5), "observability.dynamodbThrottles.treshold is not a known setting"),
    (_with("observability", dynamodbSystemErrors__enabled="sometimes"),
     "observability.dynamodbSystemErrors.enabled must be true or false, got 'sometimes'"),
    (_with("observability", lambdaError={"threshold": 1}), "observability.lambdaError is not a known setting"),
    (_with("observability", dashboard="maybe"), "observability.dashboard must be true or false, got 'maybe'"),
]

# Private editor access: dev's sessions section switched to private mode (allowedCidrs dropped).
_CERT = "arn:aws:acm:us-east-1:123456789012:certificate/11111111-2222-3333-4444-555555555555"


def _private(**values):
    return _with("sessions", editorAccess="private", allowedCidrs=..., certificateArn=_CERT, **values)


BAD += [
    (_private(), "sessions.editorDomain is required when editorAccess is private"),
    ({**_private(editorDomain="ide.example.com"), **_with("network", azs=1)},
     "network.azs must be at least 2 when sessions.editorAccess is private"),
    (_with("data", encryption="CUSTOMER_MANAGED", kmsKeyArn="arn:aws:iam::123456789012:role/not-a-key"),
     "data.kmsKeyArn must be a KMS key ARN"),
    (_with("data", encryption="CUSTOMER_MANAGED", kmsKeyArn="arn:aws:kms:eu-west-1:123456789012:key/abc"),
     "data.kmsKeyArn must be a KMS key in the primary region us-east-1"),
    (_with("data", encryption="CUSTOMER_MANAGED", replicaRegions=["eu-west-1"],
           kmsKeyArn="arn:aws:kms:us-east-1:123456789012:key/abc",
           replicaKmsKeyArns={"eu-west-1": "arn:aws:s3:::eu-west-1:bucket"}),
     "data.replicaKmsKeyArns.eu-west-1 must be a KMS key ARN in eu-west-1"),
    (_with("identity", domainPrefix="example-dev", logoutUrls=...),
     "identity.logoutUrls is required when domainPrefix is set"),
    (_with("sessions", editorDomain="ide.example.com"), "sessions.editorDomain only applies when editorAccess is private"),
    (_private(editorDomain="https://ide.example.com"), "sessions.editorDomain must be a lowercase DNS name"),
    (_private(editorDomain="*.ide.example.com"), "sessions.editorDomain must be a lowercase DNS name"),
    (_private(editorDomain="IDE.Example.com"), "sessions.editorDomain must be a lowercase DNS name"),
    (_private(editorDomain="ide.example.com."), "sessions.editorDomain must be a lowercase DNS name"),
    (_private(editorDomain="localhost"), "sessions.editorDomain must be a lowercase DNS name"),
    (_private(editorDomain="ide.example.123"), "sessions.editorDomain must be a lowercase DNS name"),
    (_private(editorDomain="-ide.example.com"), "sessions.editorDomain must be a lowercase DNS name"),
    (_private(editorDomain="a" * 63 + "." + "b" * 61 + ".com"),
     "sessions.editorDomain must be at most 128 characters (the load balancer's host condition value), got 129"),
    (_private(editorDomain=["ide.example.com"]), "sessions.editorDomain must be a non-empty string"),
]


@pytest.mark.parametrize("changes,message", BAD, ids=[m[:60] for _, m in BAD])
def test_bad_config_fails_with_specific_message(changes, message):
    raw, secrets = _dev_raw(**changes)
    with pytest.raises(config.ConfigError) as err:
        config.parse(raw, "dev", secrets)
    assert message in str(err.value)
    assert str(err.value).startswith("Pulumi.dev.yaml: ")
    assert "\n" not in str(err.value)


def test_both_stack_files_are_valid():
    for stack in ("dev", "prod"):
        raw, secrets = program.stack_config(stack)
        cfg = config.parse(raw, stack, secrets)
        assert cfg.tags["environment"] == stack and cfg.tags["project"] == "aiplatform"


def test_dev_is_cheap_and_prod_is_resilient_through_config_only():
    dev = config.parse(program.stack_config("dev")[0], "dev")
    prod = config.parse(program.stack_config("prod")[0], "prod")
    assert dev.network.nat_gateway_count == 0 and not dev.network.flow_logs.enabled
    assert dev.data.replica_regions == () and not dev.data.deletion_protection
    assert dev.sessions.capacity_strategy[0].capacity_provider == "FARGATE_SPOT"
    assert prod.network.nat_gateway_count == prod.network.azs >= 2
    assert prod.data.replica_regions and prod.data.deletion_protection and prod.identity.deletion_protection
    assert prod.identity.mfa == "ON"


def test_secrets_must_be_stored_encrypted():
    raw, _ = _dev_raw(**_with("identity", google={"clientId": "abc"}, domainPrefix="example-dev"))
    raw["aiplatform:googleClientSecret"] = "plain"
    with pytest.raises(config.ConfigError, match="must be stored encrypted"):
        config.parse(raw, "dev", [])
    cfg = config.parse(raw, "dev", ["aiplatform:googleClientSecret"])
    assert cfg.secrets == {"googleClientSecret": "plain"}


def test_stack_name_must_fit_resource_names():
    raw, _ = program.stack_config("dev")
    with pytest.raises(config.ConfigError, match="stack name must be 1-16 lowercase"):
        config.parse(raw, "Production-Environment-1")


@pytest.mark.parametrize("cpu,memory,ok", [
    (256, 512, True), (256, 4096, False), (512, 4096, True), (1024, 9216, False), (4096, 30720, True),
    (8192, 16384, True), (8192, 20480, True), (8192, 18432, False), (16384, 122880, True), (16384, 40000, False),
])
def test_fargate_size_table_matches_aws(cpu, memory, ok):
    assert (config.fargate_size_error(cpu, memory) is None) is ok


def test_pulumi_yaml_documents_every_config_key():
    """Pulumi.yaml's config block is the user-facing reference: every key the parser reads is there."""
    project = yaml.safe_load((program.ROOT / "Pulumi.yaml").read_text())
    declared = project["config"]
    raw, _ = program.stack_config("prod")
    top_level = {k.split(":", 1)[1] for k in raw if k.startswith("aiplatform:")}
    assert top_level <= set(declared)
    sections = {"network": config.NetworkConfig, "data": config.DataConfig, "identity": config.IdentityConfig,
                "costGuard": config.CostGuardConfig, "sessions": config.SessionsConfig, "api": config.ApiConfig,
                "observability": config.ObservabilityConfig}
    import dataclasses

    def camel(s):
        head, *rest = s.split("_")
        return head + "".join(p.title() for p in rest)

    renamed = {"lambda_settings": "lambda", "nat_strategy": "natStrategy", "monthly_budget_usd": "monthlyBudgetUsd",
               "mfa": "mfa", "capacity_strategy": "capacityStrategy", "ecr_keep_images": "ecr",
               "ecr_immutable_tags": "ecr", "memory_mb": "memoryMb", "threat_protection": "threatProtection",
               "activate_cost_allocation_tags": "activateCostAllocationTags",
               "appsync_errors_5xx": "appsyncErrors5xx"}
    for key, cls in sections.items():
        text = declared[key]["description"]
        for f in dataclasses.fields(cls):
            name = renamed.get(f.name, camel(f.name))
            assert name in text, f"Pulumi.yaml config.{key} does not document {name}"


def test_editor_domain_is_private_modes_and_may_use_the_whole_host_length():
    prod = config.parse(program.stack_config("prod")[0], "prod")
    dev = config.parse(program.stack_config("dev")[0], "dev")
    assert (prod.sessions.editor_domain, dev.sessions.editor_domain) == ("ide.example.com", None)
    longest = "a" * 63 + "." + "b" * 60 + ".com"
    raw, secrets = _dev_raw(**_private(editorDomain=longest))
    assert len(config.parse(raw, "dev", secrets).sessions.editor_domain) == config.EDITOR_DOMAIN_MAX == 128


def _sessions_of(**values):
    raw, secrets = _dev_raw(**_with("sessions", **values))
    return config.parse(raw, "dev", secrets).sessions


def test_image_is_either_an_external_reference_or_this_stacks_repository_tag():
    dev = config.parse(program.stack_config("dev")[0], "dev").sessions
    prod = config.parse(program.stack_config("prod")[0], "prod").sessions
    assert (dev.image, dev.ecr_image_tag) == ("codercom/code-server:4.96.4", None)
    assert (prod.image, prod.ecr_image_tag) == ("ecr:4.96.4", "4.96.4")
    assert _sessions_of(image="ecr:" + "a" * 128).ecr_image_tag == "a" * 128
    assert _sessions_of(image="ecr:_build.7-x").ecr_image_tag == "_build.7-x"
    # Only the exact prefix selects the repository; registry hosts and other images are used as written.
    for image in ("public.ecr.aws/x/code-server:1", "123456789012.dkr.ecr.us-east-1.amazonaws.com/ide:2"):
        assert _sessions_of(image=image).ecr_image_tag is None


def test_reserved_concurrency_per_function_or_one_number_for_all():
    def reserved(value):
        lam = _sessions_of(**{"lambda": {"reservedConcurrency": value}} if value is not ... else {}).lambda_settings
        return {kind: lam.reserved_for(kind) for kind in ("api", "task-state", "reaper")}

    assert reserved(...) == {"api": None, "task-state": None, "reaper": None}  # dev: unset (small accounts)
    assert reserved(7) == {"api": 7, "task-state": 7, "reaper": 7}
    assert reserved({"reaper": 1}) == {"api": None, "task-state": None, "reaper": 1}
    assert reserved({"api": 20, "taskState": 10, "reaper": 1}) == {"api": 20, "task-state": 10, "reaper": 1}
    prod = config.parse(program.stack_config("prod")[0], "prod").sessions.lambda_settings
    assert {k: prod.reserved_for(k) for k in ("api", "task-state", "reaper")} == {"api": 20, "task-state": 10, "reaper": 1}
    with pytest.raises(KeyError, match="unknown sessions function 'taskState'"):
        prod.reserved_for("taskState")


def test_customer_managed_keys_in_the_right_regions_are_accepted():
    raw, _ = _dev_raw(**_with("data", encryption="CUSTOMER_MANAGED", replicaRegions=["eu-west-1"],
                              kmsKeyArn="arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
                              replicaKmsKeyArns={"eu-west-1": "arn:aws:kms:eu-west-1:123456789012:alias/tables"}))
    cfg = config.parse(raw, "dev", [])
    assert cfg.data.kms_key_arn.endswith("key/1234abcd-12ab-34cd-56ef-1234567890ab")


@pytest.mark.parametrize("key, value, message", [
    ("aws:assumeRoles", '[{"roleArn": "arn:aws:iam::123456789012:role/deploy"}]',
     "aws:assumeRoles is not passed to the stack's explicit aws provider (supported: aws:region, aws:profile, "
     "aws:allowedAccountIds"),
    ("aiplatfrom:tags", '{"team": "x"}', "aiplatfrom:tags is not a setting of this project (its settings are "
                                         "aiplatform:<key>; a typo in the namespace?)"),
    ("aws:allowedAccountIds", '[123456789012]', "aws:allowedAccountIds must be a list of 12-digit account ids"),
    ("aws:allowedAccountIds", '["1234"]', "aws:allowedAccountIds must be a list of 12-digit account ids"),
    ("aws:profile", "", "aws:profile must be a non-empty string"),
])
def test_stack_settings_outside_the_project_are_refused_unless_the_provider_honours_them(key, value, message):
    """The explicit provider ignores aws: settings it is not given: a silently dropped assumeRoles or
    allowedAccountIds could deploy into the wrong account."""
    raw, secrets = _dev_raw()
    raw[key] = value
    with pytest.raises(config.ConfigError) as err:
        config.parse(raw, "dev", secrets)
    assert str(err.value).startswith(f"Pulumi.dev.yaml: {message}")


def test_profile_and_allowed_accounts_reach_the_explicit_provider():
    raw, secrets = _dev_raw()
    raw.update({"aws:profile": "platform-dev", "aws:allowedAccountIds": '["123456789012"]'})
    run = program.run("dev", raw, secrets)
    (provider,) = [r for r in run.registrations if r.type == "pulumi:providers:aws"]
    assert provider.plain_inputs["profile"] == "platform-dev"
    assert json.loads(provider.plain_inputs["allowedAccountIds"]) == ["123456789012"]


def test_tag_values_in_any_script_with_awss_punctuation_are_accepted():
    raw, secrets = _dev_raw(tags={"team": "プラットフォーム チーム", "owner": "ops@example.com", "path": "a/b:c=d+e-f_g.h"})
    assert config.parse(raw, "dev", secrets).extra_tags["team"] == "プラットフォーム チーム"


# --- every problem at once, regions and partitions ------------------------------------------------
def _problems(raw, secrets, stack="dev") -> list[str]:
    with pytest.raises(config.ConfigError) as err:
        config.parse(raw, stack, secrets)
    assert all(line.startswith(f"Pulumi.{stack}.yaml: ") for line in err.value.problems)
    return err.value.problems


def test_every_problem_of_a_stack_is_reported_at_once_one_line_each():
    changes = {**_with("network", azs=9), **_with("api", fieldLogLevel="ALL"), "logRetentionDays": 10,
               "aws:profile": "", **_with("identity", mfa="OFF")}
    problems = _problems(*_dev_raw(**changes))
    assert len(problems) == 5, problems
    for fragment in ("aws:profile must be a non-empty string", "logRetentionDays must be one of CloudWatch's",
                     "network.azs must be between 1 and 6, got 9", "identity.mfa must not be OFF",
                     "api.fieldLogLevel must not be ALL"):
        assert sum(fragment in line for line in problems) == 1, (fragment, problems)


def test_a_misspelt_section_is_named_before_the_missing_one():
    raw, secrets = _dev_raw()
    raw["aiplatform:netwrok"] = raw.pop("aiplatform:network")
    problems = _problems(raw, secrets)
    assert problems[0].startswith("Pulumi.dev.yaml: netwrok is not a known setting")
    assert problems[1:] == ["Pulumi.dev.yaml: network is required"]


def test_a_misspelt_key_is_named_before_the_required_key_it_hides():
    network = _section("network")
    network["natStrateggy"] = network.pop("natStrategy")
    assert _problems(*_dev_raw(network=network)) == [
        "Pulumi.dev.yaml: network.natStrateggy is not a known setting (did you mean natStrategy?)",
        "Pulumi.dev.yaml: network.natStrategy is required"]


def test_unknown_keys_are_all_named_and_a_missing_section_adds_no_follow_on_errors():
    network = {**_section("network"), "colour": "blue", "size": 3}
    raw, secrets = _dev_raw(network=network, costGuard=None)
    problems = _problems(raw, secrets)
    assert [p.split(" (known")[0] for p in problems] == [
        "Pulumi.dev.yaml: network.colour is not a known setting",
        "Pulumi.dev.yaml: network.size is not a known setting",
        "Pulumi.dev.yaml: costGuard is required"]


def test_the_preview_prints_each_problem_on_its_own_error_line_and_exits_2(tmp_path, capsys):
    from tools import preview

    root = tmp_path / "project"
    root.mkdir()
    for name in ("Pulumi.yaml", "__main__.py"):
        (root / name).write_text((program.ROOT / name).read_text())
    stack = yaml.safe_load((program.ROOT / "Pulumi.dev.yaml").read_text())
    stack["config"]["aws:region"] = "us-est-1"
    network = stack["config"]["aiplatform:network"]
    network["natStrateggy"] = network.pop("natStrategy")
    (root / "Pulumi.dev.yaml").write_text(yaml.safe_dump(stack))
    assert preview.main(["--stack", "dev", "--root", str(root), "--no-policy"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("error: Pulumi.dev.yaml: network.natStrateggy is not a known setting")
    assert "error: Pulumi.dev.yaml: network.natStrategy is required" in err
    assert ("error: Pulumi.dev.yaml: aws:region must be a region of the aws partition, got 'us-est-1' "
            "(did you mean us-west-1 or us-east-1 or us-west-2?)") in err
    assert len(err) == 3, err


@pytest.mark.parametrize("region,partition", [
    ("us-east-1", "aws"), ("eu-central-2", "aws"), ("cn-north-1", "aws-cn"), ("us-gov-west-1", "aws-us-gov")])
def test_regions_come_from_botocores_list_with_their_partition(region, partition):
    raw, secrets = _dev_raw(**{"aws:region": region, "agents": {"enabled": False}})  # dev's models are us. profiles
    assert config.parse(raw, "dev", secrets).partition == partition


@pytest.mark.parametrize("region,message", [
    ("us-est-1", "aws:region must be a region of the aws partition"),
    ("cn-south-9", "aws:region must be a region of the aws-cn partition"),
    ("mars-north-1", "aws:region must be an AWS region name, got 'mars-north-1'"),
])
def test_a_region_aws_does_not_have_is_refused(region, message):
    (line,) = _problems(*_dev_raw(**{"aws:region": region}))
    assert message in line and repr(region) in line


def test_replicas_must_be_real_regions_of_the_primarys_partition():
    (line,) = _problems(*_dev_raw(**_with("data", replicaRegions=["eu-wset-1"])))
    assert "data.replicaRegions lists 'eu-wset-1', which is not an AWS region" in line
    (line,) = _problems(*_dev_raw(**_with("data", replicaRegions=["cn-north-1"])))
    assert "outside the primary region's partition aws" in line


@pytest.mark.parametrize("region", ["us-gov-west-1", "cn-north-1"])
def test_no_arn_the_program_builds_assumes_the_aws_partition(region):
    """Every ARN the program writes (trust conditions, policy resources) carries the region's partition."""
    agents = _section("agents")
    agents["models"] = {role: "amazon.nova-micro-v1:0" for role in agents["models"]}  # dev's us. profiles stay in us
    raw, secrets = _dev_raw(**{"aws:region": region, "agents": agents})
    run = program.run("dev", raw, secrets)
    partition = config.partition_of(region)
    literal = []
    for reg in run.registrations:
        text = json.dumps(reg.inputs)
        if "arn:aws:" in text:
            literal.append(f"{reg.name}: {text[text.index('arn:aws:'):][:80]}")
    assert not literal, literal
    assert any(f"arn:{partition}:ecs:{region}:" in json.dumps(r.inputs) for r in run.registrations)
