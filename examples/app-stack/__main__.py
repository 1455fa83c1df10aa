"""Example app stack on top of the aiplatform platform stack.

Reads the platform's outputs through ``pulumi.StackReference("<org>/aiplatform/<stack>")`` (the names
are the contract in the platform repository's ``app/deploy/contract.py``) and publishes what the
app's runtime needs as SSM parameters in the platform's region. Missing outputs fail the update with
one message naming all of them, before anything is created.
"""

import json

import pulumi
import pulumi_aws as aws

NEEDED = ("region", "graphqlUrl", "graphqlDefaultAuthMode", "userPoolId", "userPoolClientId",
          "identityIssuerUrl", "tables", "amplifyOutputs")

config = pulumi.Config()
org = config.require("org")
platform_stack = config.get("platformStack") or pulumi.get_stack()
app = config.get("appName") or "web"
reference = f"{org}/aiplatform/{platform_stack}"
platform = pulumi.StackReference(reference)


def _check(outputs: dict) -> bool:
    missing = [name for name in NEEDED if outputs.get(name) is None]
    if missing:
        raise ValueError(f"stack {reference} has no output(s) {', '.join(missing)}: deploy the platform "
                         f"stack with a program that exports them (app/deploy/contract.py)")
    return True


# Only the names are inspected, so the check itself carries no secret.
checked = pulumi.Output.unsecret(platform.outputs.apply(_check))


def need(name: str) -> pulumi.Output:
    """One platform output, once every needed output is known to exist; secrets stay secret."""
    return pulumi.Output.all(checked, platform.get_output(name)).apply(lambda v: v[1])


region = need("region")
tables = need("tables")
# The platform decides the region; this stack follows it.
provider = aws.Provider("platform-region", region=region)
opts = pulumi.ResourceOptions(provider=provider)
prefix = f"/apps/{app}/{pulumi.get_stack()}"

aws.ssm.Parameter(
    "graphql-url", name=f"{prefix}/graphql-url", type="String", value=need("graphqlUrl"),
    description=f"AppSync endpoint of {reference}", opts=opts)
aws.ssm.Parameter(
    "cognito", name=f"{prefix}/cognito", type="String",
    value=pulumi.Output.json_dumps({"userPoolId": need("userPoolId"), "clientId": need("userPoolClientId"),
                                    "issuer": need("identityIssuerUrl")}),
    description=f"Cognito settings of {reference} for server-side token checks", opts=opts)

pulumi.export("platformStack", reference)
pulumi.export("graphqlUrl", need("graphqlUrl"))
pulumi.export("graphqlAuthMode", need("graphqlDefaultAuthMode"))
pulumi.export("messagesTableName", tables.apply(lambda t: t["messages"]["name"]))
pulumi.export("messagesTableArn", pulumi.Output.all(tables, region).apply(
    lambda v: v[0]["messages"]["regions"][v[1]]["arn"]))
# Secret whenever the platform's is (it then carries the API key).
pulumi.export("amplifyOutputs", need("amplifyOutputs").apply(json.dumps))
