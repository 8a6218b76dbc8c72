# Alerts and a dashboard (docs/operations.md says what each alert means and
# what to do). Log-based metrics count the exact messages the functions log
# (monitoring_test.go checks each filter against the Go code); requests and
# latency come from Cloud Run's own metrics, a 2nd-gen function being a
# Cloud Run service.

variable "notification_channels" {
  description = "Cloud Monitoring notification channel ids (projects/P/notificationChannels/N) the alerts notify. Empty: the alerts only show in the console."
  type        = list(string)
  default     = []
}

locals {
  # Names for monitoring: metrics and alerts start with the environment's
  # name (eh-staging), and each function's Cloud Run service is its
  # deployed name (eh-staging-crm), which the dashboard builds from
  # service_prefix (./deployment: deployed_name = "<name>-<function>").
  monitoring_service_prefix = "${local.name}-"
  monitoring_service        = { for name, f in local.functions : name => f.deployed_name }

  # Log lines of our functions only.
  monitoring_logs = join(" AND ", [
    "resource.type=\"cloud_run_revision\"",
    "resource.labels.service_name=(${join(" OR ", [for s in values(local.monitoring_service) : "\"${s}\""])})",
  ])

  log_metrics = {
    # A webhook whose signature did not match: Twilio calls a URL the
    # function does not check against, or an auth token changed. The
    # doctor's own unsigned probes are left out.
    "signature-rejections" = {
      description = "Webhooks refused for their X-Twilio-Signature (webhook rejected)."
      filter      = "jsonPayload.message=\"webhook rejected\" AND NOT jsonPayload.user_agent=\"experthub-doctor\""
    }
    # Conversation work given up: a customer not welcomed, a bot turn not
    # answered, attributes not set.
    "work-failures" = {
      description = "Conversation work dead-lettered, lost or dropped."
      filter = join(" OR ", [
        "jsonPayload.message:\"conversation work dead-lettered\"",
        "jsonPayload.message:\"conversation work lost\"",
        "jsonPayload.message:\"conversation work dropped\"",
        "jsonPayload.message=\"work: task dropped, its error is permanent\"",
        "jsonPayload.message=\"work: task handler panicked\"",
      ])
    }
    "sync-failures" = {
      description = "Full syncs and Strapi webhooks that failed."
      filter      = "jsonPayload.message=\"full sync failed\" OR jsonPayload.message=\"sync webhook failed\""
    }
    "full-syncs" = {
      description = "Full syncs completed."
      filter      = "jsonPayload.message=\"full sync done\""
    }
  }
}

resource "google_logging_metric" "log" {
  for_each    = local.log_metrics
  name        = "${local.name}-${each.key}"
  description = each.value.description
  filter      = "${local.monitoring_logs} AND (${each.value.filter})"
  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"
    labels {
      key         = "function"
      value_type  = "STRING"
      description = "The function that logged the line."
    }
  }
  label_extractors = {
    function = "EXTRACT(jsonPayload.function)"
  }

  # logging.googleapis.com is in the description's apis.
  depends_on = [google_project_service.api]
}

locals {
  # Alerts on a log-based count: any line within 5 minutes.
  count_alerts = {
    "signature-rejections" = "Webhooks refused for their signature: Twilio may be dropping customer messages"
    "work-failures"        = "Conversation work given up"
    "sync-failures"        = "CRM sync failed"
  }
}

resource "google_monitoring_alert_policy" "count" {
  for_each              = local.count_alerts
  display_name          = "${local.name}: ${each.value}"
  combiner              = "OR"
  notification_channels = var.notification_channels
  documentation {
    content   = "See docs/operations.md, alert \"${each.key}\"."
    mime_type = "text/markdown"
  }
  conditions {
    display_name = each.value
    condition_threshold {
      filter          = "metric.type=\"logging.googleapis.com/user/${google_logging_metric.log[each.key].name}\" AND resource.type=\"cloud_run_revision\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"
      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["metric.label.function"]
      }
      trigger {
        count = 1
      }
    }
  }
}

# A metric-absence condition waits at most 23.5 hours, so "no full sync in
# 26 hours" is a PromQL absent_over_time over the log-based counter.
resource "google_monitoring_alert_policy" "no_full_sync" {
  display_name          = "${local.name}: no successful full sync in 26 h"
  combiner              = "OR"
  notification_channels = var.notification_channels
  documentation {
    content   = "See docs/operations.md, alert \"no-full-sync\"."
    mime_type = "text/markdown"
  }
  conditions {
    display_name = "no full sync done in 26 h"
    condition_prometheus_query_language {
      query               = "absent_over_time(logging_googleapis_com:user_${replace(google_logging_metric.log["full-syncs"].name, "-", "_")}[26h])"
      duration            = "0s"
      evaluation_interval = "300s"
    }
  }
}

# Twilio waits 5 s for pre-event, then publishes the message unchanged.
resource "google_monitoring_alert_policy" "pre_event_latency" {
  display_name          = "${local.name}: pre-event p95 latency over 3 s"
  combiner              = "OR"
  notification_channels = var.notification_channels
  documentation {
    content   = "See docs/operations.md, alert \"pre-event-latency\"."
    mime_type = "text/markdown"
  }
  conditions {
    display_name = "pre-event p95 > 3 s"
    condition_threshold {
      filter          = "metric.type=\"run.googleapis.com/request_latencies\" AND resource.type=\"cloud_run_revision\" AND resource.label.service_name=\"${local.monitoring_service["pre-event"]}\""
      comparison      = "COMPARISON_GT"
      threshold_value = 3000 # ms
      duration        = "300s"
      aggregations {
        alignment_period     = "60s"
        per_series_aligner   = "ALIGN_DELTA"
        cross_series_reducer = "REDUCE_PERCENTILE_95"
      }
      trigger {
        count = 1
      }
    }
  }

  # monitoring.googleapis.com is in the description's apis.
  depends_on = [google_project_service.api]
}

resource "google_monitoring_dashboard" "main" {
  dashboard_json = templatefile("${path.module}/dashboard.json", {
    prefix         = local.name
    service_prefix = local.monitoring_service_prefix
  })
  # monitoring.googleapis.com is in the description's apis.
  depends_on = [google_project_service.api]
  lifecycle {
    precondition {
      condition     = alltrue([for name, s in local.monitoring_service : s == "${local.monitoring_service_prefix}${name}"])
      error_message = "dashboard.json names each function's service service_prefix + function; a deployed name no longer is."
    }
  }
}
