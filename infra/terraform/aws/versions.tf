terraform {
  required_version = ">= 1.6"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # aws_eks_access_entry arrived in 5.33.
      version = ">= 5.33, < 7.0"
    }
  }
}

provider "aws" {
  region = var.region
}
