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
# A role with a condition holds only where it does: the build account's
# storage.objectAdmin covers Google's gcf-v2-* buckets, not the Terraform
# state or the promotion marks.
resource "google_project_iam_member" "roles" {
  for_each = module.deployment.project_roles
  project  = var.project
  role     = each.value.role
  member   = google_service_account.account[each.value.account].member

  dynamic "condition" {
    for_each = each.value.condition == null ? [] : [each.value.condition]
    content {
      title      = condition.value.title
      expression = condition.value.expression
    }
  }
}

# The deploying identity (Cloud Build's account) acts as the deployment's
# accounts, each granted on the account rather than project-wide: it cannot
# act as the default compute account or another workload's. Terraform
# grants it because it creates the accounts in the same apply
# (https://cloud.google.com/iam/docs/service-accounts-actas).
resource "google_service_account_iam_member" "deployer" {
  for_each           = var.deployer_service_account == "" ? toset([]) : toset(module.deployment.deployer_acts_as)
  service_account_id = google_service_account.account[each.value].name
  role               = "roles/iam.serviceAccountUser"
  member             = "serviceAccount:${var.deployer_service_account}"
}
