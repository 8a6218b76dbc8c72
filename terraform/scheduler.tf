locals {
  full_sync  = module.deployment.full_sync
  line_sweep = module.deployment.line_sweep

  # The Cloud Scheduler jobs. Each calls its function with an OIDC token
  # of its account (SYNC_SCHEDULER_SERVICE_ACCOUNT), which may invoke the
  # function even if it stops being public
  # (google_cloud_run_service_iam_member.invoker in main.tf):
  # - full_sync: the full Strapi -> Firestore sync, a safety net for
  #   Strapi webhooks (which are never retried). sync accepts the call
  #   because the token's audience is SYNC_OIDC_AUDIENCE.
  # - line_sweep: the sweep of the waiting line every minute, a safety
  #   net for TaskRouter's workspace events (taskrouter-events), and the
  #   only trigger when another system owns the workspace's
  #   EventCallbackUrl. taskrouter-events accepts the call because the
  #   token's audience is the function's URL.
  scheduler_jobs = {
    full_sync = merge(local.full_sync, {
      description = "Expert Hub ${var.environment}: full Strapi -> Firestore sync"
      schedule    = var.sync_schedule
      time_zone   = var.sync_time_zone
      retry_count = 1
    })
    line_sweep = merge(local.line_sweep, {
      description = "Expert Hub ${var.environment}: sweep of the waiting line"
      time_zone   = "Etc/UTC"
      retry_count = 0
    })
  }
}

resource "google_cloud_scheduler_job" "job" {
  for_each    = local.scheduler_jobs
  name        = each.value.job
  region      = var.region
  description = each.value.description
  schedule    = each.value.schedule
  time_zone   = each.value.time_zone
  # HTTP targets allow at most 30 minutes.
  attempt_deadline = "${min(local.functions[each.value.function].timeout_seconds, 1800)}s"

  retry_config {
    retry_count = each.value.retry_count
  }

  http_target {
    http_method = "POST"
    uri         = google_cloudfunctions2_function.fn[each.value.function].url
    oidc_token {
      service_account_email = google_service_account.account[each.value.account].email
      audience              = local.public_urls[each.value.function]
    }
  }

  # Creating a job that signs as the scheduler's account needs act-as on it.
  depends_on = [google_cloud_run_service_iam_member.invoker, google_service_account_iam_member.deployer]
}

# The jobs were two resources before.
moved {
  from = google_cloud_scheduler_job.full_sync
  to   = google_cloud_scheduler_job.job["full_sync"]
}

moved {
  from = google_cloud_scheduler_job.line_sweep
  to   = google_cloud_scheduler_job.job["line_sweep"]
}
