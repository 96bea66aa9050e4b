# Least-privilege instance role for aws-nat-router; mirrors iam-policy.json and
# iam-policy-recovery.json (with var.cluster_id instead of "squid", and the current
# partition instead of "aws" so it also works in aws-cn / aws-us-gov).
#
# Tags the conditions rely on (aws-nat-router/id = var.cluster_id):
# - route tables: tag them yourself (they are the ones the router manages);
# - instances: tag them, e.g. through the Auto Scaling group (propagate_at_launch) or the
#   launch template's tag_specifications { resource_type = "instance" };
# - network interfaces: ENIs do NOT inherit instance or ASG tags. Multi-interface NAT
#   instances need the tag on their ENIs, e.g. a launch template
#   tag_specifications { resource_type = "network-interface" }; otherwise
#   ModifyNetworkInterfaceAttribute (source/dest check per interface) is denied.
# IAM cannot restrict which instance a route points at; the tag condition limits which
# route tables and instances the role can change.

variable "cluster_id" {
  description = "Value of the aws-nat-router/id tag (the router's --cluster-id)"
  type        = string
  default     = "squid"
}

variable "enable_recovery" {
  description = "Allow rebooting/terminating unhealthy NAT instances (recovery mode)"
  type        = bool
  default     = false
}

variable "name" {
  description = "Name of the IAM role and instance profile"
  type        = string
  default     = "nat-router-role"
}

data "aws_partition" "current" {}

locals {
  arn_prefix = "arn:${data.aws_partition.current.partition}:ec2:*:*"
  tag_key    = "ec2:ResourceTag/aws-nat-router/id"
}

data "aws_iam_policy_document" "assume_ec2_role" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

data "aws_iam_policy_document" "router" {
  # Describe* cannot be scoped to resources.
  statement {
    sid       = "Describe"
    actions   = ["ec2:DescribeInstances", "ec2:DescribeRouteTables", "ec2:DescribeNatGateways"]
    resources = ["*"]
  }
  statement {
    sid       = "Routes"
    actions   = ["ec2:CreateRoute", "ec2:ReplaceRoute"]
    resources = ["${local.arn_prefix}:route-table/*"]
    condition {
      test     = "StringEquals"
      variable = local.tag_key
      values   = [var.cluster_id]
    }
  }
  # Instances launched by an Auto Scaling group start with SourceDestCheck on.
  statement {
    sid     = "SourceDestCheck"
    actions = ["ec2:ModifyInstanceAttribute", "ec2:ModifyNetworkInterfaceAttribute"]
    resources = [
      "${local.arn_prefix}:instance/*",
      "${local.arn_prefix}:network-interface/*",
    ]
    condition {
      test     = "StringEquals"
      variable = local.tag_key
      values   = [var.cluster_id]
    }
  }
  # The draining mark (aws-nat-router/draining) on the node's own instance only: the
  # instance the request comes from (ec2:SourceInstanceARN, set for instance-role
  # credentials), that one tag key, and never a DeleteTags without keys (which deletes all).
  statement {
    sid       = "DrainingMark"
    actions   = ["ec2:CreateTags", "ec2:DeleteTags"]
    resources = ["${local.arn_prefix}:instance/*"]
    condition {
      test     = "StringEquals"
      variable = local.tag_key
      values   = [var.cluster_id]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:ARN"
      values   = ["$${ec2:SourceInstanceARN}"]
    }
    condition {
      test     = "ForAllValues:StringEquals"
      variable = "aws:TagKeys"
      values   = ["aws-nat-router/draining"]
    }
    condition {
      test     = "Null"
      variable = "aws:TagKeys"
      values   = ["false"]
    }
  }
}

data "aws_iam_policy_document" "recovery" {
  statement {
    sid       = "Recovery"
    actions   = ["ec2:RebootInstances", "ec2:TerminateInstances"]
    resources = ["${local.arn_prefix}:instance/*"]
    condition {
      test     = "StringEquals"
      variable = local.tag_key
      values   = [var.cluster_id]
    }
  }
}

resource "aws_iam_role" "router" {
  name               = var.name
  assume_role_policy = data.aws_iam_policy_document.assume_ec2_role.json
}

resource "aws_iam_role_policy" "router" {
  name   = "${var.name}-ec2"
  role   = aws_iam_role.router.id
  policy = data.aws_iam_policy_document.router.json
}

resource "aws_iam_role_policy" "recovery" {
  count  = var.enable_recovery ? 1 : 0
  name   = "${var.name}-recovery"
  role   = aws_iam_role.router.id
  policy = data.aws_iam_policy_document.recovery.json
}

resource "aws_iam_instance_profile" "router" {
  name = var.name
  role = aws_iam_role.router.name
}

output "instance_profile_name" {
  description = "Launch NAT instances with this instance profile"
  value       = aws_iam_instance_profile.router.name
}

output "role_arn" {
  value = aws_iam_role.router.arn
}
