# Dedicated identities, from the description (service_accounts): the
# functions never run as the default compute service account, which has
# Editor on many projects. The gcloud path creates the same accounts.
resource "google_service_account" "account" {
  for_each     = module.deployment.accounts
  account_id   = each.value.id
  display_name = each.value.display_name
  depends_on   = [google_project_service.api]
}

# The accounts had one resource each before the description listed them.
moved {
  from = google_service_account.runtime
  to   = google_service_account.account["run"]
}

moved {
  from = google_service_account.build
  to   = google_service_account.account["build"]
}

moved {
  from = google_service_account.scheduler
  to   = google_service_account.account["scheduler"]
}

# Project-wide grants (the description's project_roles): the functions read
# and write the Firestore cache; Cloud Build, running as the build account,
# writes logs, pushes the image to gcf-artifacts and reads the uploaded
# source (the roles Google lists for a 2nd-gen build service account).
# Secrets are granted one by one in secrets.tf, the queue in
# queue.tf.
resource "google_project_iam_member" "roles" {
  for_each = module.deployment.project_roles
  project  = var.project
  role     = each.value.role
  member   = google_service_account.account[each.value.account].member
}
