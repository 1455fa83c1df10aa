"""aiplatform: compose the platform's components from typed stack config and export the outputs.

Stack differences live in Pulumi.<stack>.yaml only; nothing here branches on the stack name.
"""

import pulumi

from components import config
from components.cost_guard import CostGuard, CostGuardArgs
from components.data import Data, DataArgs
from components.identity import Identity, IdentityArgs
from components.network import Network, NetworkArgs
from components.provider import aws_provider, child_options

cfg = config.load()
opts = child_options(aws_provider(cfg))

network = Network("network", NetworkArgs(
    config=cfg.network, region=cfg.region, log_retention_days=cfg.log_retention_days,
    editor_port=cfg.sessions.editor_port, editor_access=cfg.sessions.editor_access,
    editor_allowed_cidrs=cfg.sessions.allowed_cidrs), opts)

data = Data("data", DataArgs(config=cfg.data, region=cfg.region), opts)
users = data.tables["users"]

identity = Identity("identity", IdentityArgs(
    config=cfg.identity, users_table_arn=users.arn, users_table_name=users.name,
    log_retention_days=cfg.log_retention_days, secrets=cfg.secrets), opts)

cost = CostGuard("cost", CostGuardArgs(config=cfg.cost_guard, stack=cfg.stack, tags=cfg.tags), opts)

pulumi.export("region", cfg.region)
pulumi.export("vpcId", network.vpc_id)
pulumi.export("publicSubnetIds", network.public_subnet_ids)
pulumi.export("privateSubnetIds", network.private_subnet_ids)
pulumi.export("sessionSecurityGroupId", network.session_security_group_id)
pulumi.export("userPoolId", identity.outputs.user_pool_id)
pulumi.export("userPoolArn", identity.outputs.user_pool_arn)
pulumi.export("userPoolClientId", identity.outputs.client_id)
pulumi.export("identityIssuerUrl", identity.outputs.issuer_url)
pulumi.export("budgetName", cost.bundle.budget_name)
pulumi.export("budgetTopicArn", cost.bundle.topic_arn)
