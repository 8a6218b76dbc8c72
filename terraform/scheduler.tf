locals {
  full_sync = module.deployment.full_sync
}

# Full sync on a schedule, a safety net for Strapi webhooks (which are
# never retried). sync accepts the call because the OIDC token is signed for
# SYNC_SCHEDULER_SERVICE_ACCOUNT with audience SYNC_OIDC_AUDIENCE; the
# account may invoke sync even if sync stops being public
# (google_cloud_run_service_iam_member.invoker in main.tf).
resource "google_cloud_scheduler_job" "full_sync" {
  name        = local.full_sync.job
  region      = var.region
  description = "Expert Hub ${var.environment}: full Strapi -> Firestore sync"
  schedule    = var.sync_schedule
  time_zone   = var.sync_time_zone
  # HTTP targets allow at most 30 minutes.
  attempt_deadline = "${min(local.functions[local.full_sync.function].timeout_seconds, 1800)}s"

  retry_config {
    retry_count = 1
  }

  http_target {
    http_method = "POST"
    uri         = google_cloudfunctions2_function.fn[local.full_sync.function].url
    oidc_token {
      service_account_email = google_service_account.account[local.full_sync.account].email
      audience              = local.public_urls[local.full_sync.function]
    }
  }

  depends_on = [google_cloud_run_service_iam_member.invoker]
}

locals {
  line_sweep = module.deployment.line_sweep
}

# Sweep of the waiting line every minute: a safety net for TaskRouter's
# workspace events (taskrouter-events), and the only trigger when another
# system owns the workspace's EventCallbackUrl. taskrouter-events accepts
# the call because the OIDC token is signed for
# SYNC_SCHEDULER_SERVICE_ACCOUNT with the function's URL as audience.
resource "google_cloud_scheduler_job" "line_sweep" {
  name             = local.line_sweep.job
  region           = var.region
  description      = "Expert Hub ${var.environment}: sweep of the waiting line"
  schedule         = local.line_sweep.schedule
  time_zone        = "Etc/UTC"
  attempt_deadline = "${min(local.functions[local.line_sweep.function].timeout_seconds, 1800)}s"

  retry_config {
    retry_count = 0
  }

  http_target {
    http_method = "POST"
    uri         = google_cloudfunctions2_function.fn[local.line_sweep.function].url
    oidc_token {
      service_account_email = google_service_account.account[local.line_sweep.account].email
      audience              = local.public_urls[local.line_sweep.function]
    }
  }

  depends_on = [google_cloud_run_service_iam_member.invoker]
}
