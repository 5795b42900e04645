# AWS provider v5 or v6: the module uses nothing v6 deprecates (the region
# comes from aws_region's id, not its name) and nothing only v6 has.
terraform {
  required_version = ">= 1.6.0"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.30, < 7.0"
    }
  }
}
