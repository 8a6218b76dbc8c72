terraform {
  # optional() object attributes (1.3), endswith() (1.3), preconditions (1.2).
  required_version = ">= 1.5"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "~> 7.0"
    }
    archive = {
      source  = "hashicorp/archive"
      version = "~> 2.7"
    }
  }

  # No backend block: state is local unless a backend_override.tf says
  # otherwise (cloudbuild.yaml writes one for GCS; README "Terraform state").
}

provider "google" {
  project = var.project
  region  = var.region

  default_labels = {
    app = "expert-hub"
  }
}
