locals {
  # Conversations events each hook handles (twilio.md §2); same lists as
  # deploy.PreEventFilters and deploy.PostEventFilters.
  pre_event_filters  = ["onConversationAdd"]
  post_event_filters = ["onParticipantAdded", "onMessageAdded"]
  # Strapi events that reach sync; same list as deploy.StrapiEvents.
  strapi_events = ["entry.create", "entry.update", "entry.delete", "entry.publish", "entry.unpublish"]

  # The Twilio provider has no resource for /v1/Configuration/Webhooks, so
  # the global Conversations webhooks are set with one REST call. Its single
  # Filters list holds both the pre and the post events.
  conversations_filters = concat(local.pre_event_filters, local.post_event_filters)
  conversations_curl = join(" \\\n  ", concat(
    ["curl -sS -X POST https://conversations.twilio.com/v1/Configuration/Webhooks", "-u \"$TWILIO_ACCOUNT_SID:$TWILIO_AUTH_TOKEN\""],
    [
      "--data-urlencode \"PreWebhookUrl=${local.public_urls["pre-event"]}\"",
      "--data-urlencode \"PostWebhookUrl=${local.public_urls["post-event"]}\"",
      "--data-urlencode Method=POST",
      "--data-urlencode Target=webhook",
    ],
    [for f in local.conversations_filters : "--data-urlencode Filters=${f}"],
  ))
  conversations_twilio_cli = join(" \\\n  ", concat(
    ["twilio api:conversations:v1:configuration:webhooks:update"],
    [
      "--pre-webhook-url=${local.public_urls["pre-event"]}",
      "--post-webhook-url=${local.public_urls["post-event"]}",
      "--method=POST",
      "--target=webhook",
    ],
    [for f in local.conversations_filters : "--filters=${f}"],
  ))
}

output "function_urls" {
  description = "URL of every function: what Twilio and Strapi call, and what signatures are checked against."
  value       = local.public_urls
}

output "service_uris" {
  description = "The run.app URI of each function's Cloud Run service (logs, revisions, rollback)."
  value       = { for name, f in google_cloudfunctions2_function.fn : name => f.service_config[0].uri }
}

output "frontline_console" {
  description = "Twilio Console > Frontline > Manage > Callbacks (CRM, outgoing conversations) and > Routing (custom routing)."
  value = {
    crm_callback_url                    = local.public_urls["crm"]
    outgoing_conversations_callback_url = local.public_urls["outgoing"]
    custom_routing_callback_url         = local.public_urls["routing"]
  }
}

output "conversations_webhooks" {
  description = "Twilio Console > Conversations > Manage > Global webhooks (method POST), or run the curl / twilio command."
  value = {
    method               = "POST"
    pre_webhook_url      = local.public_urls["pre-event"]
    pre_webhook_filters  = local.pre_event_filters
    post_webhook_url     = local.public_urls["post-event"]
    post_webhook_filters = local.post_event_filters
    curl                 = local.conversations_curl
    twilio_cli           = local.conversations_twilio_cli
  }
}

output "strapi_webhook" {
  description = "Strapi admin > Settings > Webhooks: URL, events and the header sync checks."
  value = {
    url          = local.public_urls["sync"]
    events       = local.strapi_events
    header_name  = "Authorization"
    header_value = "Bearer <value of secret ${local.secret_ids["STRAPI_WEBHOOK_SECRET"]}>"
    read_secret  = "gcloud secrets versions access latest --secret=${local.secret_ids["STRAPI_WEBHOOK_SECRET"]} --project=${var.project}"
  }
}

output "secret_commands" {
  description = "How to add (or rotate) each secret the functions read; values never pass through Terraform."
  value = {
    for name in local.wired_secrets : name =>
    "read -rs V && printf %s \"$V\" | gcloud secrets versions add ${local.secret_ids[name]} --data-file=- --project=${var.project}; unset V"
  }
}

output "smoke_test_urls" {
  description = "Function URLs, one per line (cloudbuild.yaml's smoke test)."
  value       = join("\n", values(local.public_urls))
}
