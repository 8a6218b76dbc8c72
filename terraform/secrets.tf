locals {
  # Secret variable → Secret Manager secret, from the description (secrets).
  # Terraform creates the empty containers; the operator adds values with
  # `gcloud secrets versions add`, so no secret value is ever in a plan, a
  # state file or git. Only the secrets whose settings are in use are wired
  # into the functions (module.deployment.wired_secrets): Cloud Run does not
  # start a revision whose secret has no version, and config rejects an API
  # secret without its key.
  secret_ids = module.deployment.secret_ids
}

resource "google_secret_manager_secret" "env" {
  for_each  = local.secret_ids
  secret_id = each.value

  replication {
    auto {}
  }

  depends_on = [google_project_service.api]
}

# Only the functions' identity may read the secrets, each granted on the
# secret itself rather than project-wide, and only those wired into the
# functions: an unused secret (the Flex token without a contact center)
# stays out of their reach.
resource "google_secret_manager_secret_iam_member" "runtime" {
  for_each  = { for name in module.deployment.wired_secrets : name => google_secret_manager_secret.env[name] }
  secret_id = each.value.id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.account["run"].member
}
