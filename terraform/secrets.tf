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

# Only the functions' identities may read the secrets, each granted on the
# secret itself rather than project-wide, and each to the accounts of the
# functions given it (module.deployment.secret_grants): an unused secret
# (the Flex token without a contact center) stays out of every function's
# reach, and one only sync reads (the Strapi webhook secret) out of
# eh-<env>-run's.
resource "google_secret_manager_secret_iam_member" "runtime" {
  for_each  = module.deployment.secret_grants
  secret_id = google_secret_manager_secret.env[each.value.secret].id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.account[each.value.account].member
}

# The grants were keyed by variable while every function ran as
# eh-<env>-run. STRAPI_WEBHOOK_SECRET is not moved: its grant goes from
# eh-<env>-run to eh-<env>-sync.
moved {
  from = google_secret_manager_secret_iam_member.runtime["TWILIO_AUTH_TOKEN"]
  to   = google_secret_manager_secret_iam_member.runtime["TWILIO_AUTH_TOKEN run"]
}

moved {
  from = google_secret_manager_secret_iam_member.runtime["TWILIO_API_SECRET"]
  to   = google_secret_manager_secret_iam_member.runtime["TWILIO_API_SECRET run"]
}

moved {
  from = google_secret_manager_secret_iam_member.runtime["STRAPI_API_TOKEN"]
  to   = google_secret_manager_secret_iam_member.runtime["STRAPI_API_TOKEN run"]
}

moved {
  from = google_secret_manager_secret_iam_member.runtime["STRAPI_PASSWORD"]
  to   = google_secret_manager_secret_iam_member.runtime["STRAPI_PASSWORD run"]
}

moved {
  from = google_secret_manager_secret_iam_member.runtime["FLEX_AUTH_TOKEN"]
  to   = google_secret_manager_secret_iam_member.runtime["FLEX_AUTH_TOKEN run"]
}

moved {
  from = google_secret_manager_secret_iam_member.runtime["FLEX_API_SECRET"]
  to   = google_secret_manager_secret_iam_member.runtime["FLEX_API_SECRET run"]
}

moved {
  from = google_secret_manager_secret_iam_member.runtime["HANDOFF_SECRET"]
  to   = google_secret_manager_secret_iam_member.runtime["HANDOFF_SECRET run"]
}
