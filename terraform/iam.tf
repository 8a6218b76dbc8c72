# Dedicated identities: the functions never run as the default compute
# service account, which has Editor on many projects. The account ids equal
# the constants of internal/deploy, so both deploy paths manage the same
# accounts.

resource "google_service_account" "runtime" {
  account_id   = "expert-hub-run"
  display_name = "Expert Hub functions"
  depends_on   = [google_project_service.api]
}

resource "google_service_account" "build" {
  account_id   = "expert-hub-build"
  display_name = "Expert Hub function builds"
  depends_on   = [google_project_service.api]
}

resource "google_service_account" "scheduler" {
  account_id   = "expert-hub-scheduler"
  display_name = "Expert Hub full-sync scheduler"
  depends_on   = [google_project_service.api]
}

locals {
  project_roles = {
    # The functions read and write the Firestore cache; secrets are granted
    # one by one in secrets.tf.
    runtime_datastore = { member = google_service_account.runtime.member, role = "roles/datastore.user" }
    # Cloud Build, running as the build account, writes logs, pushes the
    # image to gcf-artifacts and reads the uploaded source.
    build_logs    = { member = google_service_account.build.member, role = "roles/logging.logWriter" }
    build_images  = { member = google_service_account.build.member, role = "roles/artifactregistry.writer" }
    build_sources = { member = google_service_account.build.member, role = "roles/storage.objectViewer" }
  }
}

resource "google_project_iam_member" "roles" {
  for_each = local.project_roles
  project  = var.project
  role     = each.value.role
  member   = each.value.member
}
