"""The explicit aws provider every resource of the stack uses.

Default tags are set here once, so every taggable resource carries the cost-allocation tags without
each component repeating them; stack config disables the implicit default provider so nothing can
slip past it.
"""

from __future__ import annotations

from typing import Optional

import pulumi
import pulumi_aws as aws

from .config import PlatformConfig


def aws_provider(cfg: PlatformConfig, name: str = "aws", region: Optional[str] = None) -> aws.Provider:
    return aws.Provider(
        name,
        region=region or cfg.region,
        default_tags=aws.ProviderDefaultTagsArgs(tags=cfg.tags),
        # An explicit provider does not read aws: stack config itself: pass on what config allows.
        profile=cfg.aws_profile,
        allowed_account_ids=list(cfg.allowed_account_ids) or None,
    )


def child_options(provider: aws.Provider) -> pulumi.ResourceOptions:
    """Options for top-level components: their children inherit the provider by package."""
    return pulumi.ResourceOptions(providers=[provider])
