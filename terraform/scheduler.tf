# The scheduler's identity may invoke sync even if sync stops being public.
resource "google_cloud_run_service_iam_member" "scheduler" {
  location = google_cloudfunctions2_function.fn["sync"].location
  service  = google_cloudfunctions2_function.fn["sync"].name
  role     = "roles/run.invoker"
  member   = google_service_account.scheduler.member
}

# Full sync on a schedule, a safety net for Strapi webhooks (which are
# never retried). sync accepts the call because the OIDC token is signed for
# SYNC_SCHEDULER_SERVICE_ACCOUNT with audience SYNC_OIDC_AUDIENCE.
resource "google_cloud_scheduler_job" "full_sync" {
  name        = "expert-hub-full-sync"
  region      = var.region
  description = "Expert Hub: full Strapi -> Firestore sync"
  schedule    = var.sync_schedule
  time_zone   = var.sync_time_zone
  # HTTP targets allow at most 30 minutes.
  attempt_deadline = "${min(local.function_settings["sync"].timeout_seconds, 1800)}s"

  retry_config {
    retry_count = 1
  }

  http_target {
    http_method = "POST"
    uri         = google_cloudfunctions2_function.fn["sync"].url
    oidc_token {
      service_account_email = google_service_account.scheduler.email
      audience              = local.public_urls["sync"]
    }
  }

  depends_on = [google_cloud_run_service_iam_member.scheduler]
}
