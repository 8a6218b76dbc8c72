locals {
  # Conversations events each hook handles, and the Strapi events that reach
  # sync (the description's pre_event_filters, post_event_filters and
  # strapi_events).
  pre_event_filters  = module.deployment.pre_event_filters
  post_event_filters = module.deployment.post_event_filters
  strapi_events      = module.deployment.strapi_events

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

output "environment" {
  description = "The environment of this state, and what its names start with: compare before pasting URLs into Twilio or Strapi."
  value = {
    environment = var.environment
    names       = "${local.name}-*"
    project     = var.project
  }
}

output "function_urls" {
  description = "URL of every public function: what Twilio and Strapi call, and what signatures are checked against."
  value       = { for name in local.public_functions : name => local.public_urls[name] }
}

output "internal_functions" {
  description = "Functions that are not public, such as work: Cloud Tasks calls them with an OIDC token of their invokers. Nothing to set in Twilio or Strapi."
  value = {
    for name, f in local.functions : name => {
      url      = local.public_urls[name]
      invokers = [for key in f.invokers : module.deployment.accounts[key].email]
      queues   = [for q in module.deployment.queues : q.name if q.target == name]
    } if !f.public
  }
}

output "service_uris" {
  description = "The run.app URI of each function's Cloud Run service (logs, revisions, rollback)."
  value       = { for name, f in google_cloudfunctions2_function.fn : name => f.service_config[0].uri }
}

output "frontline_console" {
  description = "Twilio Console > Frontline > Manage > Callbacks (CRM, outgoing conversations, templates) and > Routing (custom routing)."
  value = {
    crm_callback_url                    = local.public_urls["crm"]
    outgoing_conversations_callback_url = local.public_urls["outgoing"]
    templates_callback_url              = local.public_urls["templates"]
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
    for name in module.deployment.wired_secrets : name =>
    "read -rs V && printf %s \"$V\" | gcloud secrets versions add ${local.secret_ids[name]} --data-file=- --project=${var.project}; unset V"
  }
}

output "smoke_test_urls" {
  description = "URLs of the public functions, one per line (cloudbuild.yaml's smoke test; the others answer 403 to anyone but their invokers)."
  value       = join("\n", [for name in local.public_functions : local.public_urls[name]])
}

output "doctor_env" {
  description = "The functions' plain settings as a .env file: what experthub doctor reads about this environment (cloudbuild.yaml's doctor step). No secret is in it."
  value       = join("\n", [for k, v in merge(values(module.deployment.env)...) : "${k}=\"${v}\""])
}

output "doctor_secrets" {
  description = "The wired Twilio and contact-center secrets experthub doctor needs in Cloud Build, one VARIABLE=secret-id a line (cloudbuild.yaml's doctor-secret step reads their values, never this output's)."
  value = join("\n", [
    for name in module.deployment.wired_secrets : "${name}=${local.secret_ids[name]}"
    if !startswith(name, "STRAPI_")
  ])
}

output "promotion_bucket" {
  description = "Bucket of the commits that passed this environment (the passed step writes, the next environment's gate reads), or empty without promotion_writers."
  value       = try(google_storage_bucket.promotion[0].name, "")
}
