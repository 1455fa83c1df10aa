"""aiplatform: compose the platform's components from typed stack config and export the outputs."""

import pulumi

from components import config
from components.network import Network, NetworkArgs
from components.provider import aws_provider, child_options

cfg = config.load()
opts = child_options(aws_provider(cfg))

network = Network("network", NetworkArgs(
    config=cfg.network, region=cfg.region, log_retention_days=cfg.log_retention_days,
    editor_port=cfg.sessions.editor_port, editor_access=cfg.sessions.editor_access,
    editor_allowed_cidrs=cfg.sessions.allowed_cidrs), opts)

pulumi.export("region", cfg.region)
pulumi.export("vpcId", network.vpc_id)
pulumi.export("publicSubnetIds", network.public_subnet_ids)
pulumi.export("privateSubnetIds", network.private_subnet_ids)
