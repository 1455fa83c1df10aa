"""The stack outputs contract and pure builders for its structured outputs.

``OUTPUT_NAMES`` is the table in ``app/deploy/contract.py`` (one source for the program that exports
and the app tooling that reads; that package is standard-library only so app teams can use it
without Pulumi). The builders here take plain values (call them inside ``Output.all(...).apply``)
and return plain JSON-ready objects:

* ``amplify_outputs`` -> the ``amplify_outputs.json`` object Amplify JS reads (schema 1.4: auth and
  data), so a Next.js app can ``Amplify.configure(outputs)`` directly.
* ``tables_output`` -> ``{key: {name, regions: {region: {arn, streamArn}}}}``.
* ``agents_settings`` -> what the web app needs to call the MAGI agent runtime (``custom.agents``).

Bad input raises ``OutputsContractError`` naming the field.
"""

from __future__ import annotations

import re
from typing import Any, Mapping, Optional, Sequence

from app.deploy.contract import (AGENT_TOKEN_USE, AUTH_MODES, DEFAULT_AUTH_MODE, OUTPUT_NAMES, REQUIRED_OUTPUTS,
                                 TABLE_KEYS, OutputSpec, agent_invocation_url)

from .config import AWS_REGION_RE, IdentityConfig
from .identity import OAUTH_SCOPES, group_precedences, password_policy

__all__ = ["OUTPUT_NAMES", "REQUIRED_OUTPUTS", "OutputSpec", "OutputsContractError", "AMPLIFY_OUTPUTS_VERSION",
           "identity_settings", "oauth_domain", "amplify_outputs", "tables_output", "agents_settings"]

AMPLIFY_OUTPUTS_VERSION = "1.4"
# Cognito's identity provider names -> amplify_outputs.json's oauth.identity_providers values.
AMPLIFY_PROVIDERS = {"Google": "GOOGLE", "SignInWithApple": "SIGN_IN_WITH_APPLE"}
# The hosted UI's host for a Cognito domain prefix (Amplify prepends https:// itself).
OAUTH_DOMAIN_RE = re.compile(r"^[a-z0-9-]+\.auth\.[a-z]{2}(-gov)?-[a-z]+-\d\.amazoncognito\.com$")


class OutputsContractError(ValueError):
    """A builder got input that would produce outputs an app cannot use."""


def _fail(field: str, message: str) -> OutputsContractError:
    return OutputsContractError(f"amplify_outputs: {field} {message}")


def oauth_domain(prefix: str, region: str) -> str:
    """The hosted UI domain Amplify's oauth.domain wants: <prefix>.auth.<region>.amazoncognito.com."""
    return f"{prefix}.auth.{region}.amazoncognito.com"


def identity_settings(cfg: IdentityConfig) -> dict[str, Any]:
    """What amplify_outputs.json says about the user pool that follows from config alone, taken
    from the same builders the Identity component uses so the two cannot drift.

    Called when the program starts (before any resource), so a config Amplify could not use fails
    early: a hosted UI domain needs both callback and logout URLs in amplify_outputs.json."""
    policy = password_policy(cfg)
    settings: dict[str, Any] = {
        "mfa_configuration": {"ON": "REQUIRED", "OPTIONAL": "OPTIONAL"}[cfg.mfa],
        # Identity enables software-token (TOTP) MFA only: no SMS configuration, no e-mail MFA.
        "mfa_methods": ["TOTP"],
        "password_policy": {
            "min_length": policy.minimum_length,
            "require_lowercase": bool(policy.require_lowercase),
            "require_uppercase": bool(policy.require_uppercase),
            "require_numbers": bool(policy.require_numbers),
            "require_symbols": bool(policy.require_symbols),
        },
        "groups": [name for name, _ in group_precedences(cfg.groups)],
        "callback_urls": list(cfg.callback_urls),
        "logout_urls": list(cfg.logout_urls),
        "oauth_scopes": list(OAUTH_SCOPES),
        "identity_providers": [p for p, on in (("Google", cfg.google), ("SignInWithApple", cfg.apple)) if on],
    }
    if cfg.domain_prefix and not (cfg.callback_urls and cfg.logout_urls):
        raise OutputsContractError(
            "identity.domainPrefix is set but identity."
            + ("callbackUrls" if not cfg.callback_urls else "logoutUrls")
            + " is empty: amplify_outputs.json's oauth section needs at least one sign-in and one sign-out URL")
    return settings


def _str(section: Mapping[str, Any], key: str, where: str, what: str) -> str:
    value = section.get(key)
    if not isinstance(value, str) or not value:
        raise _fail(f"{where}.{key}", f"is required ({what}), got {value!r}")
    return value


def _auth(region: str, identity: Mapping[str, Any]) -> dict[str, Any]:
    auth: dict[str, Any] = {
        "aws_region": region,
        "user_pool_id": _str(identity, "user_pool_id", "identity", "the Cognito user pool id"),
        "user_pool_client_id": _str(identity, "user_pool_client_id", "identity", "the web app client id"),
        # Sign-in is by e-mail (Identity: username_attributes=["email"], auto-verified e-mail), so the
        # sign-up form must ask for it and confirm it.
        "username_attributes": ["email"],
        "standard_required_attributes": ["email"],
        "user_verification_types": ["email"],
        "unauthenticated_identities_enabled": False,  # no identity pool: no guest credentials
    }
    # No identity_pool_id: the platform has no identity pool, and the schema does not require one.
    for key in ("mfa_configuration", "mfa_methods", "password_policy"):
        if identity.get(key) is None:
            raise _fail(f"identity.{key}", "is required (use identity_settings(cfg.identity))")
        auth[key] = identity[key]
    groups = identity.get("groups")
    if not isinstance(groups, (list, tuple)) or not all(isinstance(g, str) for g in groups):
        raise _fail("identity.groups", f"must be the group names in precedence order, got {groups!r}")
    auth["groups"] = [{name: {"precedence": i}} for i, name in enumerate(groups)]

    domain = identity.get("oauth_domain")
    if domain is not None:
        if not isinstance(domain, str) or not OAUTH_DOMAIN_RE.fullmatch(domain):
            raise _fail("identity.oauth_domain", f"must be the hosted UI host <prefix>.auth.<region>.amazoncognito.com "
                                                 f"without https:// (see oauth_domain()), got {domain!r}")
        sign_in, sign_out = list(identity.get("callback_urls") or []), list(identity.get("logout_urls") or [])
        if not sign_in or not sign_out:
            raise _fail("identity." + ("callback_urls" if not sign_in else "logout_urls"),
                        "must not be empty when oauth_domain is set (Amplify needs both redirect lists)")
        providers = []
        for p in identity.get("identity_providers") or []:
            if p not in AMPLIFY_PROVIDERS:
                raise _fail("identity.identity_providers", f"has {p!r}, which Amplify cannot name "
                                                           f"(known: {', '.join(AMPLIFY_PROVIDERS)})")
            providers.append(AMPLIFY_PROVIDERS[p])
        auth["oauth"] = {
            "identity_providers": providers,
            "domain": domain,
            "scopes": list(identity.get("oauth_scopes") or []),
            "redirect_sign_in_uri": sign_in,
            "redirect_sign_out_uri": sign_out,
            "response_type": "code",  # the app client allows the authorization code flow only
        }
    return auth


def _data(region: str, api: Mapping[str, Any]) -> dict[str, Any]:
    url = _str(api, "url", "api", "the AppSync GraphQL URL")
    if not url.startswith("https://"):
        raise _fail("api.url", f"must be the https GraphQL endpoint, got {url!r}")
    default = api.get("default_authorization_type", DEFAULT_AUTH_MODE)
    modes = list(api.get("authorization_types") or [])
    unknown = [m for m in [default, *modes] if m not in AUTH_MODES]
    if unknown:
        raise _fail("api.authorization_types", f"has {unknown[0]!r}, not an AppSync authorization type "
                                               f"({', '.join(AUTH_MODES)})")
    if default not in modes:
        raise _fail("api.authorization_types", f"must include the default {default!r}, got {modes}")
    key = api.get("api_key")
    if ("API_KEY" in modes) != (key is not None):
        raise _fail("api.api_key", "must be given exactly when API_KEY is among authorization_types "
                                   f"(authorization_types {modes}, api_key {'set' if key is not None else 'missing'})")
    data: dict[str, Any] = {
        "aws_region": region,
        "url": url,
        "default_authorization_type": default,
        # Amplify's own generator lists the additional types here, the default apart.
        "authorization_types": [m for m in modes if m != default],
    }
    if key is not None:
        if not isinstance(key, str) or not key:
            raise _fail("api.api_key", f"must be the API key string, got {key!r}")
        data["api_key"] = key
    return data


AGENT_RUNTIME_ARN_RE = re.compile(r"^arn:aws[a-z-]*:bedrock-agentcore:([a-z]{2}(?:-gov)?-[a-z]+-\d):\d{12}:runtime/[A-Za-z0-9_-]+$")


def agents_settings(region: str, runtime_arn: str, endpoint_name: str, client_id: str) -> dict[str, Any]:
    """amplify_outputs.json's ``custom.agents``: where and how the web app invokes the agent runtime
    (POST ``invocation_url`` with ``Authorization: Bearer <Cognito access token>``)."""
    match = AGENT_RUNTIME_ARN_RE.fullmatch(runtime_arn or "")
    if not match:
        raise _fail("agents.runtime_arn", f"must be an AgentCore runtime ARN, got {runtime_arn!r}")
    if match.group(1) != region:
        raise _fail("agents.runtime_arn", f"is in {match.group(1)}, not the stack's region {region}")
    if not isinstance(endpoint_name, str) or not re.fullmatch(r"[a-zA-Z][a-zA-Z0-9_]{0,47}", endpoint_name):
        raise _fail("agents.endpoint_name", f"must be an AgentCore endpoint name, got {endpoint_name!r}")
    if not isinstance(client_id, str) or not client_id:
        raise _fail("agents.client_id", f"is required (the app client the authorizer allows), got {client_id!r}")
    return {"aws_region": region, "runtime_arn": runtime_arn, "endpoint_name": endpoint_name,
            "invocation_url": agent_invocation_url(region, runtime_arn, endpoint_name),
            "client_id": client_id, "token_use": AGENT_TOKEN_USE}


def amplify_outputs(region: str, identity: Mapping[str, Any], api: Mapping[str, Any],
                    agents: Optional[Mapping[str, Any]] = None) -> dict[str, Any]:
    """The amplify_outputs.json object (version 1.4) for this stack.

    ``identity``: ``identity_settings(cfg.identity)`` plus the resolved ``user_pool_id``,
    ``user_pool_client_id`` and, with a hosted UI, ``oauth_domain`` (see ``oauth_domain()``).
    ``api``: ``url``, ``default_authorization_type``, ``authorization_types`` (all, default included)
    and ``api_key`` exactly when API_KEY is among them. The result then holds the key: export it as
    a secret. ``agents``: ``agents_settings(...)`` when the stack runs the agents."""
    if not isinstance(region, str) or not AWS_REGION_RE.fullmatch(region):
        raise _fail("region", f"must be an AWS region name, got {region!r}")
    doc = {"version": AMPLIFY_OUTPUTS_VERSION, "auth": _auth(region, identity), "data": _data(region, api)}
    if agents is not None:
        if agents.get("aws_region") != region or agents.get("client_id") != doc["auth"]["user_pool_client_id"]:
            raise _fail("agents", "must come from agents_settings() for this stack's region and web app client")
        # Amplify passes custom through untouched (backend.addOutput({custom})): the app reads it itself.
        doc["custom"] = {"agents": dict(agents)}
    return doc


def tables_output(region: str, tables: Mapping[str, Mapping[str, Any]],
                  keys: Sequence[str] = TABLE_KEYS) -> dict[str, Any]:
    """``{key: {"name", "regions": {region: {"arn", "streamArn"}}}}`` from each table's resolved
    ``name``, ``arn``, ``stream_arn`` and ``replicas`` (aws.dynamodb.Table.replicas as resolved:
    dicts with ``region_name``, ``arn`` and, once AWS reports it, ``stream_arn``). A global table keeps
    its name in every region; ARNs and streams are per region."""
    missing = [k for k in keys if k not in tables]
    if missing:
        raise OutputsContractError(f"tables output: missing table(s) {', '.join(missing)}")
    out: dict[str, Any] = {}
    for key, t in tables.items():
        where = f"tables output: table {key}"
        for field in ("name", "arn"):
            if not isinstance(t.get(field), str) or not t[field]:
                raise OutputsContractError(f"{where}: {field} is required, got {t.get(field)!r}")
        regions: dict[str, dict[str, Optional[str]]] = {region: {"arn": t["arn"], "streamArn": t.get("stream_arn")}}
        for replica in t.get("replicas") or []:
            rname = replica.get("region_name")
            if not isinstance(rname, str) or not AWS_REGION_RE.fullmatch(rname):
                raise OutputsContractError(f"{where}: a replica has no region_name, got {replica!r}")
            if rname in regions:
                raise OutputsContractError(f"{where}: region {rname} appears twice (primary or replica)")
            if not replica.get("arn"):
                raise OutputsContractError(f"{where}: replica {rname} has no arn")
            regions[rname] = {"arn": replica["arn"], "streamArn": replica.get("stream_arn")}
        out[key] = {"name": t["name"], "regions": regions}
    return out
