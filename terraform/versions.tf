terraform {
  # optional() object attributes (1.3), endswith() (1.3), preconditions (1.2).
  required_version = ">= 1.5"

  # Exact versions: no lock file is committed yet, and a range would let
  # each build resolve whatever release is newest that day. Commit
  # .terraform.lock.hcl (docs/deploy.md, "Provider versions") to pin checksums too;
  # build_test.go refuses a range without one.
  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "= 7.46.0"
    }
    archive = {
      source  = "hashicorp/archive"
      version = "= 2.7.1"
    }
  }

  # No backend block: state is local unless a backend_override.tf says
  # otherwise (cloudbuild.yaml writes one for GCS; docs/deploy.md, "State").
}

provider "google" {
  project = var.project
  region  = var.region

  # app and environment (the description's naming.labels) on everything
  # that takes labels: functions, secrets, the source bucket.
  default_labels = module.deployment.labels
}
