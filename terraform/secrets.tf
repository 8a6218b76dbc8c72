locals {
  # Every config.Vars entry with Secret: true, and the Secret Manager secret
  # holding it (deploy.SecretID: lower case, dashes). Terraform creates the
  # empty containers; the operator adds values with `gcloud secrets versions
  # add`, so no secret value is ever in a plan, a state file or git.
  secret_ids = {
    TWILIO_AUTH_TOKEN     = "twilio-auth-token"
    TWILIO_API_SECRET     = "twilio-api-secret"
    STRAPI_API_TOKEN      = "strapi-api-token"
    STRAPI_PASSWORD       = "strapi-password"
    STRAPI_WEBHOOK_SECRET = "strapi-webhook-secret"
  }

  # Optional secrets are wired only when their setting is in use, as
  # deploy.WiredSecrets does: Cloud Run does not start a revision whose
  # secret has no version, and config rejects an API secret without its key.
  secret_in_use = {
    TWILIO_API_SECRET = var.twilio_api_key != ""
    STRAPI_PASSWORD   = var.strapi_identifier != ""
    STRAPI_API_TOKEN  = var.strapi_url != "" && var.strapi_identifier == ""
  }
  wired_secrets = sort([for name in keys(local.secret_ids) : name if lookup(local.secret_in_use, name, true)])
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
# secret itself rather than project-wide.
resource "google_secret_manager_secret_iam_member" "runtime" {
  for_each  = google_secret_manager_secret.env
  secret_id = each.value.id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.runtime.member
}
