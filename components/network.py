"""Network: the VPC, its free gateway endpoints, the security groups, and optional flow logs.

Lambdas stay outside this VPC on purpose: they only call AWS APIs, and in private subnets without a
NAT gateway (dev) they could not reach ECS or Cognito at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import pulumi
import pulumi_aws as aws
import pulumi_awsx as awsx

from . import iam
from .config import NetworkConfig, partition_of

NAT_STRATEGIES = {
    "none": awsx.ec2.NatGatewayStrategy.NONE,
    "single": awsx.ec2.NatGatewayStrategy.SINGLE,
    "onePerAz": awsx.ec2.NatGatewayStrategy.ONE_PER_AZ,
}
# Gateway endpoints cost nothing and keep S3 (image layers) and DynamoDB traffic off the NAT.
GATEWAY_ENDPOINT_SERVICES = ("s3", "dynamodb")
HTTPS = 443
NFS = 2049  # EFS mount targets listen on NFS only
ANYWHERE_V4 = "0.0.0.0/0"
ANYWHERE_V6 = "::/0"


@dataclass(frozen=True)
class NetworkArgs:
    config: NetworkConfig
    region: str
    log_retention_days: int
    editor_port: int
    # public: the IDE port is reachable from these CIDRs; private: only from the load balancer.
    editor_access: str
    editor_allowed_cidrs: Sequence[str] = ()
    # sessions.workspace efs: a group for the EFS mount targets, NFS in only from the session tasks.
    efs_workspace: bool = False


def vpc_args(cfg: NetworkConfig, region: str) -> awsx.ec2.VpcArgs:
    """awsx Vpc arguments: a public and a private subnet per AZ, NAT from config."""
    return awsx.ec2.VpcArgs(
        cidr_block=cfg.cidr,
        number_of_availability_zones=cfg.azs,
        enable_dns_hostnames=True,  # Fargate tasks with public IPs and interface endpoints need it
        enable_dns_support=True,
        subnet_strategy=awsx.ec2.SubnetAllocationStrategy.AUTO,
        subnet_specs=[
            awsx.ec2.SubnetSpecArgs(type=awsx.ec2.SubnetType.PUBLIC, name="public"),
            awsx.ec2.SubnetSpecArgs(type=awsx.ec2.SubnetType.PRIVATE, name="private"),
        ],
        nat_gateways=awsx.ec2.NatGatewayConfigurationArgs(strategy=NAT_STRATEGIES[cfg.nat_strategy]),
        # Auto fills each gateway endpoint's route tables from the subnets awsx creates.
        vpc_endpoint_strategy=awsx.ec2.VpcEndpointStrategy.AUTO,
        vpc_endpoint_specs=[
            awsx.ec2.VpcEndpointSpecArgs(service_name=f"com.amazonaws.{region}.{svc}", vpc_endpoint_type="Gateway")
            for svc in GATEWAY_ENDPOINT_SERVICES
        ],
    )


def flow_log_statements(log_group_arn: pulumi.Input[str]) -> list[iam.Statement]:
    """What flow-log delivery needs, each action on its own resource type: streams are created and
    written under the group, while DescribeLogStreams is authorised on the log group itself."""
    return [
        iam.Statement(actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                      resources=[pulumi.Output.concat(log_group_arn, ":log-stream:*")], sid="DeliverFlowLogs"),
        iam.Statement(actions=["logs:DescribeLogStreams"], resources=[log_group_arn], sid="DescribeFlowLogStreams"),
    ]


class Network(pulumi.ComponentResource):
    vpc_id: pulumi.Output[str]
    public_subnet_ids: pulumi.Output[list]
    private_subnet_ids: pulumi.Output[list]
    session_security_group_id: pulumi.Output[str]
    load_balancer_security_group_id: Optional[pulumi.Output[str]]
    workspace_security_group_id: Optional[pulumi.Output[str]]

    def __init__(self, name: str, args: NetworkArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("aiplatform:network:Network", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        cfg = args.config

        self.vpc = awsx.ec2.Vpc(f"{name}-vpc", vpc_args(cfg, args.region), opts=child)
        self.vpc_id = self.vpc.vpc_id
        self.public_subnet_ids = self.vpc.public_subnet_ids
        self.private_subnet_ids = self.vpc.private_subnet_ids

        # The load balancer exists only for private editor access; its group is the one place where
        # ingress from anywhere is allowed, and only on 443.
        self.load_balancer_sg: Optional[aws.ec2.SecurityGroup] = None
        if args.editor_access == "private":
            self.load_balancer_sg = aws.ec2.SecurityGroup(
                f"{name}-lb", vpc_id=self.vpc_id, description="Editor load balancer: HTTPS in, editor port out",
                revoke_rules_on_delete=True, opts=child)
            for cidr_arg, label in (({"cidr_ipv4": ANYWHERE_V4}, "v4"), ({"cidr_ipv6": ANYWHERE_V6}, "v6")):
                aws.vpc.SecurityGroupIngressRule(
                    f"{name}-lb-https-{label}", security_group_id=self.load_balancer_sg.id, ip_protocol="tcp",
                    from_port=HTTPS, to_port=HTTPS, description="HTTPS from users", **cidr_arg, opts=child)

        self.session_sg = aws.ec2.SecurityGroup(
            f"{name}-sessions", vpc_id=self.vpc_id,
            description="IDE session tasks: editor port in from allowed sources, HTTPS out",
            revoke_rules_on_delete=True, opts=child)
        if self.load_balancer_sg is not None:
            aws.vpc.SecurityGroupIngressRule(
                f"{name}-sessions-from-lb", security_group_id=self.session_sg.id, ip_protocol="tcp",
                from_port=args.editor_port, to_port=args.editor_port,
                referenced_security_group_id=self.load_balancer_sg.id, description="Editor from the load balancer",
                opts=child)
            aws.vpc.SecurityGroupEgressRule(
                f"{name}-lb-to-sessions", security_group_id=self.load_balancer_sg.id, ip_protocol="tcp",
                from_port=args.editor_port, to_port=args.editor_port,
                referenced_security_group_id=self.session_sg.id, description="Editor to session tasks",
                opts=child)
        else:
            for i, cidr in enumerate(args.editor_allowed_cidrs):
                family = "cidr_ipv6" if ":" in cidr else "cidr_ipv4"
                aws.vpc.SecurityGroupIngressRule(
                    f"{name}-sessions-editor-{i}", security_group_id=self.session_sg.id, ip_protocol="tcp",
                    from_port=args.editor_port, to_port=args.editor_port, description=f"Editor from {cidr}",
                    opts=child, **{family: cidr})
        # Sessions pull images, clone repositories and install extensions over HTTPS; nothing else.
        aws.vpc.SecurityGroupEgressRule(
            f"{name}-sessions-https-out", security_group_id=self.session_sg.id, ip_protocol="tcp",
            from_port=HTTPS, to_port=HTTPS, cidr_ipv4=ANYWHERE_V4, description="HTTPS to registries and Git hosts",
            opts=child)

        self.workspace_sg: Optional[aws.ec2.SecurityGroup] = None
        if args.efs_workspace:
            self._workspace_group(name, child)
        self.flow_log_group: Optional[aws.cloudwatch.LogGroup] = None
        if cfg.flow_logs.enabled:
            self._flow_logs(name, args, child)

        self.session_security_group_id = self.session_sg.id
        self.load_balancer_security_group_id = self.load_balancer_sg.id if self.load_balancer_sg else None
        self.workspace_security_group_id = self.workspace_sg.id if self.workspace_sg else None
        self.register_outputs({
            "vpcId": self.vpc_id,
            "publicSubnetIds": self.public_subnet_ids,
            "privateSubnetIds": self.private_subnet_ids,
            "sessionSecurityGroupId": self.session_security_group_id,
            "loadBalancerSecurityGroupId": self.load_balancer_security_group_id,
            "workspaceSecurityGroupId": self.workspace_security_group_id,
        })

    def _workspace_group(self, name: str, child: pulumi.ResourceOptions) -> None:
        """The EFS mount targets' group: NFS from the session tasks' group and nothing else (no egress:
        NFS replies ride the tracked connection), and the tasks' matching NFS egress."""
        self.workspace_sg = aws.ec2.SecurityGroup(
            f"{name}-workspaces", vpc_id=self.vpc_id, description="EFS workspaces: NFS in from IDE session tasks only",
            revoke_rules_on_delete=True, opts=child)
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-workspaces-nfs-from-sessions", security_group_id=self.workspace_sg.id, ip_protocol="tcp",
            from_port=NFS, to_port=NFS, referenced_security_group_id=self.session_sg.id,
            description="NFS from IDE session tasks", opts=child)
        aws.vpc.SecurityGroupEgressRule(
            f"{name}-sessions-nfs-out", security_group_id=self.session_sg.id, ip_protocol="tcp",
            from_port=NFS, to_port=NFS, referenced_security_group_id=self.workspace_sg.id,
            description="NFS to the EFS workspaces", opts=child)

    def _flow_logs(self, name: str, args: NetworkArgs, child: pulumi.ResourceOptions) -> None:
        cfg = args.config.flow_logs
        stack = pulumi.get_stack()
        self.flow_log_group = aws.cloudwatch.LogGroup(
            f"{name}-flow-logs", name=f"/aiplatform/{stack}/vpc-flow-logs",
            retention_in_days=cfg.retention_days, opts=child)
        account = aws.get_caller_identity_output(opts=pulumi.InvokeOptions(parent=self)).account_id
        role = aws.iam.Role(
            f"{name}-flow-logs",
            description="VPC flow logs delivery to this stack's log group",
            assume_role_policy=iam.trust_policy(
                "vpc-flow-logs.amazonaws.com", source_account=account,
                source_arn=pulumi.Output.concat("arn:", partition_of(args.region), ":ec2:", args.region, ":", account, ":vpc-flow-log/*")),
            opts=child)
        role_policy = aws.iam.RolePolicy(
            f"{name}-flow-logs",
            role=role.id,
            policy=iam.document(flow_log_statements(self.flow_log_group.arn)),
            opts=child)
        aws.ec2.FlowLog(
            f"{name}-flow-logs",
            vpc_id=self.vpc_id,
            traffic_type=cfg.traffic_type,
            log_destination_type="cloud-watch-logs",
            log_destination=self.flow_log_group.arn,
            iam_role_arn=role.arn,
            max_aggregation_interval=600,
            # Delivery starts at creation: without its permissions the flow log reports an access error.
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[role_policy])))
