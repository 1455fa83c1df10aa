"""Per-session routing on the editor load balancer (EDITOR_ACCESS=private).

Every routed session owns exactly two load-balancer resources:

- an IP target group named ``target_group_name(listener, sessionId)`` (the session's task private IP
  on the editor port, health check ``/healthz``), tagged sessionId / owner;
- a rule on the HTTPS listener, ``host-header <EDITOR_DOMAIN>`` and ``path-pattern /<sessionId>/*``
  -> authenticate-cognito (the platform's user pool), then forward to that group, tagged the same,
  at a priority derived from the session id.

Sessions are paths on one host, not one host each, because Cognito accepts no wildcard callback
URLs: the ALB sends users back to ``https://<EDITOR_DOMAIN>/oauth2/idpresponse``, one fixed URL the
editor app client lists. The rule lets any signed-in user of the pool through; the container's auth
proxy (app/session-image/auth-proxy.js) then admits only the session's owner.

Their ARNs are stored on the session item so removal is exact. Everything here is idempotent:
creating again finds what exists (same name, same path), removing tolerates "not found". Whatever a
crash leaves behind is found by ``rules()`` / ``target_groups()`` and swept by the reaper.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any, Iterator

from botocore.exceptions import ClientError

HEALTH_PATH = "/healthz"
MAX_PRIORITY = 50000  # CreateRule accepts 1-50000
PRIORITY_ATTEMPTS = 10
# Waiting for a new target to turn healthy before announcing the editor URL: up to 8 x 5 s (two
# health checks 10 s apart plus the editor's start), inside the task-state handler's 60 s timeout.
HEALTH_WAIT_ATTEMPTS = 8
HEALTH_WAIT_INTERVAL_SECONDS = 5
TAGS_PER_DESCRIBE = 20  # DescribeTags takes at most 20 ARNs
PAGE_SIZE = 400  # the most DescribeRules / DescribeTargetGroups return per page
# The load balancer (or the account) cannot take another rule or target group. Target groups per
# ALB (100) is not adjustable; rules per ALB (100) and target groups per region (3000) are.
CAPACITY_CODES = {
    "TooManyRules", "TooManyTargetGroups", "TooManyUniqueTargetGroupsPerLoadBalancer",
    "TargetGroupAssociationLimit", "TooManyTargets",
}
_NOT_FOUND = {"RuleNotFound", "TargetGroupNotFound"}
_SESSION_ID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


class RoutingError(Exception):
    """The load balancer refused or failed a routing change; the message says which."""


class RoutingCapacity(RoutingError):
    """The load balancer has no room for another routed session (rule or target group quota)."""


@dataclass(frozen=True)
class Route:
    target_group_arn: str
    rule_arn: str


@dataclass(frozen=True)
class Found:
    """A rule or target group that belongs to a session routing, with the session it routes."""

    arn: str
    session_id: str
    target_group_arns: tuple[str, ...] = ()  # rules only: the groups the rule forwards to


def target_group_prefix(listener_arn: str) -> str:
    """``ide`` + 5 hex of the listener ARN: names stay unique per listener (target group names are
    per account and region) and IAM can scope target-group grants to ``targetgroup/<prefix>-*``."""
    return "ide" + hashlib.sha256(listener_arn.encode()).hexdigest()[:5]


def target_group_name(listener_arn: str, session_id: str) -> str:
    """<prefix>-<the session id's first 23 hex digits>: 32 characters, AWS's limit. 23 hex digits
    of a random UUID leave ~88 random bits, so two sessions never share a name in practice."""
    return f"{target_group_prefix(listener_arn)}-{session_id.replace('-', '')[:23]}"


def editor_path(session_id: str) -> str:
    """The session's path prefix on the editor host (the container's proxy strips it)."""
    return f"/{session_id}"


def path_patterns(session_id: str) -> list[str]:
    return [editor_path(session_id), f"{editor_path(session_id)}/*"]


# Re-authentication interval of the editor (seconds); the ALB's default is 7 days.
AUTH_SESSION_TIMEOUT_SECONDS = 12 * 3600


def cognito_auth(user_pool_arn: str, client_id: str, domain: str) -> dict[str, Any]:
    """The AuthenticateCognitoConfig of every session rule (and of the listener's default action,
    which handles the fixed callback /oauth2/idpresponse): unauthenticated users are sent to sign in."""
    return {"UserPoolArn": user_pool_arn, "UserPoolClientId": client_id, "UserPoolDomain": domain,
            "OnUnauthenticatedRequest": "authenticate", "Scope": "openid",
            "SessionTimeout": AUTH_SESSION_TIMEOUT_SECONDS}


def session_conditions(session_id: str, domain: str) -> list[dict[str, Any]]:
    return [{"Field": "host-header", "HostHeaderConfig": {"Values": [domain]}},
            {"Field": "path-pattern", "PathPatternConfig": {"Values": path_patterns(session_id)}}]


def priorities(session_id: str) -> Iterator[int]:
    """Every rule priority 1-50000 once, in an order derived from the session id. The stride is
    coprime to 50000 (odd and not a multiple of 5), so the walk visits each priority, and sessions
    whose first choices collide go separate ways afterwards."""
    digest = int(hashlib.sha256(session_id.encode()).hexdigest(), 16)
    start = digest % MAX_PRIORITY
    stride = 2 * ((digest >> 64) % (MAX_PRIORITY // 2)) + 1
    if stride % 5 == 0:
        stride += 2
    for k in range(MAX_PRIORITY):
        yield (start + k * stride) % MAX_PRIORITY + 1


def _code(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "")


def _message(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Message", "")


def _rule_paths(rule: dict[str, Any]) -> list[str]:
    paths: list[str] = []
    for condition in rule.get("Conditions") or []:
        if condition.get("Field") == "path-pattern":
            paths += (condition.get("PathPatternConfig") or {}).get("Values") or condition.get("Values") or []
    return paths


def _authenticates(rule: dict[str, Any], auth: dict[str, Any]) -> bool:
    return any(a.get("Type") == "authenticate-cognito" and all(
        (a.get("AuthenticateCognitoConfig") or {}).get(k) == auth[k]
        for k in ("UserPoolArn", "UserPoolClientId", "UserPoolDomain")) for a in rule.get("Actions") or [])


def _forwards_to(rule: dict[str, Any]) -> tuple[str, ...]:
    arns: list[str] = []
    for action in rule.get("Actions") or []:
        if action.get("Type") != "forward":
            continue
        if action.get("TargetGroupArn"):
            arns.append(action["TargetGroupArn"])
        for group in (action.get("ForwardConfig") or {}).get("TargetGroups") or []:
            arns.append(group["TargetGroupArn"])
    return tuple(dict.fromkeys(arns))


class EditorRoutes:
    """Creates, finds and removes session routings on one HTTPS listener (boto3 elbv2 client)."""

    def __init__(self, elb: Any, *, listener_arn: str, vpc_id: str, domain: str, port: int,
                 auth: dict[str, Any]):
        self._elb = elb
        self._auth = auth  # AuthenticateCognitoConfig: UserPoolArn, UserPoolClientId, UserPoolDomain, ...
        self._listener = listener_arn
        self._vpc = vpc_id
        self._domain = domain
        self._port = port
        self._prefix = target_group_prefix(listener_arn) + "-"
        self._path_re = re.compile(rf"^/({_SESSION_ID})/\*$")

    # ------------------------------------------------------------------ create

    def ensure(self, session_id: str, owner: str, ip: str) -> Route:
        """Route https://<domain>/<sessionId>/ to ip:port (signed-in users only); returns the
        (possibly pre-existing) routing."""
        tags = [{"Key": "sessionId", "Value": session_id}, {"Key": "owner", "Value": owner}]
        rules = self._rules()
        group = self._target_group(session_id, tags, rules)
        self._register_only(group, ip)
        try:
            rule = self._rule(session_id, group, tags, rules)
        except RoutingCapacity:
            self.remove(group, None)  # nothing routes to it: do not leave it behind
            raise
        return Route(group, rule)

    def _target_group(self, session_id: str, tags: list[dict[str, str]], rules: list[dict[str, Any]]) -> str:
        name = target_group_name(self._listener, session_id)
        for _ in range(2):
            try:
                response = self._elb.create_target_group(
                    Name=name, Protocol="HTTP", ProtocolVersion="HTTP1", Port=self._port, VpcId=self._vpc,
                    TargetType="ip", HealthCheckEnabled=True, HealthCheckProtocol="HTTP", HealthCheckPath=HEALTH_PATH,
                    # Fast enough that a fresh editor answers within ~20 s of its container being up.
                    HealthCheckIntervalSeconds=10, HealthCheckTimeoutSeconds=5, HealthyThresholdCount=2,
                    UnhealthyThresholdCount=3, Matcher={"HttpCode": "200"}, Tags=tags)
                return response["TargetGroups"][0]["TargetGroupArn"]
            except ClientError as exc:
                code = _code(exc)
                if code in CAPACITY_CODES:
                    raise RoutingCapacity(f"the editor load balancer cannot take another target group ({code})") from None
                if code != "DuplicateTargetGroupName":
                    raise
            # AWS answers an identical create with the existing group; a duplicate name means it
            # exists with other settings (an older deploy's), or the emulator is stricter than AWS.
            existing = self._elb.describe_target_groups(Names=[name])["TargetGroups"][0]
            if self._compatible(existing):
                return existing["TargetGroupArn"]
            for rule in rules:
                if existing["TargetGroupArn"] in _forwards_to(rule) and not rule.get("IsDefault"):
                    self._delete_rule(rule["RuleArn"])
            self._delete_target_group(existing["TargetGroupArn"])
        raise RoutingError(f"target group {name} keeps reappearing with other settings")

    def _compatible(self, group: dict[str, Any]) -> bool:
        return (group.get("VpcId"), group.get("Port"), group.get("Protocol"), group.get("TargetType"),
                group.get("HealthCheckPath")) == (self._vpc, self._port, "HTTP", "ip", HEALTH_PATH)

    def _register_only(self, group: str, ip: str) -> None:
        """Make ip:port the group's only target (a group reused across a restart still lists the
        interrupted task's address)."""
        self._elb.register_targets(TargetGroupArn=group, Targets=[{"Id": ip, "Port": self._port}])
        health = self._elb.describe_target_health(TargetGroupArn=group).get("TargetHealthDescriptions", [])
        stale = [{"Id": d["Target"]["Id"], "Port": d["Target"].get("Port", self._port)} for d in health
                 if (d["Target"]["Id"], d["Target"].get("Port", self._port)) != (ip, self._port)]
        if stale:
            self._elb.deregister_targets(TargetGroupArn=group, Targets=stale)

    def _rule(self, session_id: str, group: str, tags: list[dict[str, str]], rules: list[dict[str, Any]]) -> str:
        where = f"{self._domain}{editor_path(session_id)}"
        taken: set[int] = set()
        for rule in rules:
            if rule.get("IsDefault"):
                continue
            if f"{editor_path(session_id)}/*" in _rule_paths(rule):
                if _forwards_to(rule) == (group,) and _authenticates(rule, self._auth):
                    return rule["RuleArn"]  # created by an earlier attempt
                # Forwards elsewhere, or without authenticating (an older deploy's): replace it.
                self._delete_rule(rule["RuleArn"])
                continue
            taken.add(int(rule["Priority"]))
        attempts = 0
        for priority in priorities(session_id):
            if priority in taken:
                continue
            if attempts == PRIORITY_ATTEMPTS:
                break
            attempts += 1
            try:
                response = self._elb.create_rule(
                    ListenerArn=self._listener, Priority=priority,
                    Conditions=session_conditions(session_id, self._domain),
                    Actions=[{"Type": "authenticate-cognito", "Order": 1, "AuthenticateCognitoConfig": self._auth},
                             {"Type": "forward", "Order": 2, "TargetGroupArn": group}], Tags=tags)
                return response["Rules"][0]["RuleArn"]
            except ClientError as exc:
                code = _code(exc)
                if code == "PriorityInUse":
                    continue  # another session took it since we listed the rules
                if code in CAPACITY_CODES:
                    raise RoutingCapacity(f"the editor load balancer cannot take another rule ({code})") from None
                raise
        raise RoutingError(f"no free listener rule priority for {where} after {PRIORITY_ATTEMPTS} attempts")

    def wait_healthy(self, group: str, ip: str, sleep: Any, attempts: int = HEALTH_WAIT_ATTEMPTS) -> bool:
        """Whether ip:port turned healthy in the group within the wait (checked every
        HEALTH_WAIT_INTERVAL_SECONDS; a fresh target needs two 10 s health checks)."""
        for attempt in range(attempts):
            health = self._elb.describe_target_health(
                TargetGroupArn=group, Targets=[{"Id": ip, "Port": self._port}]).get("TargetHealthDescriptions", [])
            if any((d.get("TargetHealth") or {}).get("State") == "healthy" for d in health):
                return True
            if attempt + 1 < attempts:
                sleep(HEALTH_WAIT_INTERVAL_SECONDS)
        return False

    # ------------------------------------------------------------------ remove

    def remove(self, target_group_arn: str | None, rule_arn: str | None) -> None:
        """Delete a routing: the rule first (a group in use cannot be deleted). Absent parts are fine."""
        if rule_arn:
            self._delete_rule(rule_arn)
        if target_group_arn:
            self._delete_target_group(target_group_arn)

    def _delete_rule(self, arn: str) -> None:
        try:
            self._elb.delete_rule(RuleArn=arn)
        except ClientError as exc:
            if _code(exc) not in _NOT_FOUND:
                raise

    def _delete_target_group(self, arn: str) -> None:
        try:
            self._elb.delete_target_group(TargetGroupArn=arn)
        except ClientError as exc:
            code = _code(exc)
            if code in _NOT_FOUND:
                return
            if code == "ResourceInUse":
                raise RoutingError(f"target group {arn} is still used by a rule: {_message(exc)}") from None
            raise

    # ------------------------------------------------------------------ find (for the reaper)

    def _rules(self) -> list[dict[str, Any]]:
        rules: list[dict[str, Any]] = []
        params: dict[str, Any] = {"ListenerArn": self._listener, "PageSize": PAGE_SIZE}
        while True:
            response = self._elb.describe_rules(**params)
            rules += response.get("Rules", [])
            if not response.get("NextMarker"):
                return rules
            params["Marker"] = response["NextMarker"]

    def rules(self) -> list[Found]:
        """The listener's session rules (path /<sessionId>/*); other rules are not ours."""
        found = []
        for rule in self._rules():
            if rule.get("IsDefault"):
                continue
            for path in _rule_paths(rule):
                match = self._path_re.match(path)
                if match:
                    found.append(Found(rule["RuleArn"], match.group(1), _forwards_to(rule)))
                    break
        return found

    def target_groups(self) -> list[Found]:
        """Target groups with this listener's prefix in this VPC, with their sessionId tag
        (untagged ones are not ours: the tags are set atomically at creation)."""
        arns: list[str] = []
        params: dict[str, Any] = {"PageSize": PAGE_SIZE}
        while True:
            response = self._elb.describe_target_groups(**params)
            arns += [g["TargetGroupArn"] for g in response.get("TargetGroups", [])
                     if g.get("TargetGroupName", "").startswith(self._prefix) and g.get("VpcId") == self._vpc]
            if not response.get("NextMarker"):
                break
            params["Marker"] = response["NextMarker"]
        found = []
        for start in range(0, len(arns), TAGS_PER_DESCRIBE):
            response = self._elb.describe_tags(ResourceArns=arns[start:start + TAGS_PER_DESCRIBE])
            for description in response.get("TagDescriptions", []):
                tags = {t["Key"]: t["Value"] for t in description.get("Tags", [])}
                if tags.get("sessionId"):
                    found.append(Found(description["ResourceArn"], tags["sessionId"]))
        return found
