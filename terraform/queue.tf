# Cloud Tasks queues from the description (queues): conversation work is
# enqueued by the functions and dispatched to the work function. Cloud Tasks
# has no dead-letter queue: work gives up on a task itself after
# WORK_MAX_AGE and logs an ERROR; max_retry_duration is a longer backstop.
resource "google_cloud_tasks_queue" "queue" {
  for_each = module.deployment.queues
  name     = each.value.name
  location = var.region

  rate_limits {
    max_dispatches_per_second = each.value.rate_limits.max_dispatches_per_second
    max_concurrent_dispatches = each.value.rate_limits.max_concurrent_dispatches
  }

  retry_config {
    max_attempts       = each.value.retry_config.max_attempts
    max_retry_duration = each.value.retry_config.max_retry_duration
    min_backoff        = each.value.retry_config.min_backoff
    max_backoff        = each.value.retry_config.max_backoff
    max_doublings      = each.value.retry_config.max_doublings
  }

  depends_on = [google_project_service.api]
}

# The enqueuers (the functions' identity) may add tasks to the queue and
# delete the tasks whose work they did at once, so that the queue carries
# only what is left...
locals {
  queue_roles = {
    enqueuer = "roles/cloudtasks.enqueuer"
    deleter  = "roles/cloudtasks.taskDeleter"
  }
  queue_grants = merge([
    for key, e in module.deployment.enqueuers : {
      for name, role in local.queue_roles : "${key} ${name}" => merge(e, { role = role })
    }
  ]...)
}

resource "google_cloud_tasks_queue_iam_member" "enqueuer" {
  for_each = local.queue_grants
  project  = google_cloud_tasks_queue.queue[each.value.queue].project
  location = google_cloud_tasks_queue.queue[each.value.queue].location
  name     = google_cloud_tasks_queue.queue[each.value.queue].name
  role     = each.value.role
  member   = google_service_account.account[each.value.account].member
}

# The two roles were two resources keyed by enqueuer before
# (internal/deployment/deployment.json has the one, "work run").
moved {
  from = google_cloud_tasks_queue_iam_member.enqueuer["work run"]
  to   = google_cloud_tasks_queue_iam_member.enqueuer["work run enqueuer"]
}

moved {
  from = google_cloud_tasks_queue_iam_member.deleter["work run"]
  to   = google_cloud_tasks_queue_iam_member.enqueuer["work run deleter"]
}

# ...and put an OIDC token of the queue's identity in them
# (iam.serviceAccounts.actAs); that identity may invoke only the queue's
# target (google_cloud_run_service_iam_member.invoker in main.tf).
resource "google_service_account_iam_member" "enqueuer_act_as" {
  for_each           = module.deployment.enqueuers
  service_account_id = google_service_account.account[module.deployment.queues[each.value.queue].oidc_account].name
  role               = "roles/iam.serviceAccountUser"
  member             = google_service_account.account[each.value.account].member
}
