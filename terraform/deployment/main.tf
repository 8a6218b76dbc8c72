# The deployment description that the gcloud path embeds
# (internal/deployment/deployment.json; its format is documented on
# deployment.Description), worked out for one project: per-function settings and
# environment, wired secrets, identities, queues. The module has no provider
# and no resource, so deploy_test.go can evaluate it offline and compare the
# result with the gcloud plan.

terraform {
  required_version = ">= 1.5"
}

variable "project" {
  description = "Google Cloud project id."
  type        = string
}

variable "environment" {
  description = "Environment whose names these are (the root module's variable of the same name)."
  type        = string
}

variable "region" {
  description = "Region of the functions and the queues."
  type        = string
}

variable "settings" {
  description = "Plain settings every function gets, by config.Vars name, without empty values. The variables of the description's env are added per function."
  type        = map(string)
}

variable "promotion_writers" {
  description = "Members (serviceAccount:...) that may write this environment's promotion marks: the main-branch trigger's account only (the root module's variable of the same name)."
  type        = list(string)
  default     = []
}

variable "promotion_readers" {
  description = "Members that may read this environment's promotion marks: the next environment's trigger (the root module's variable of the same name)."
  type        = list(string)
  default     = []
}

variable "function_overrides" {
  description = "Per-function changes to the description's settings (the root module's variable of the same name)."
  type        = any
  default     = {}
}

locals {
  description = jsondecode(file("${path.module}/../../internal/deployment/deployment.json"))

  # The description's naming: every unique name is <prefix>-<environment>-<name>
  # (deployment.Description.ForEnvironment on the gcloud path).
  name   = "${local.description.naming.prefix}-${var.environment}"
  labels = merge(local.description.naming.labels, { environment = var.environment })

  functions = {
    for f in local.description.functions : f.name => merge(local.description.function_defaults, f, {
      for k, v in try(var.function_overrides[f.name], {}) : k => v if v != null
      }, {
      deployed_name = "${local.name}-${f.name}"
    })
  }

  accounts = {
    for key, a in local.description.service_accounts : key => merge(a, {
      id           = "${local.name}-${a.id}"
      display_name = "${a.display_name} (${var.environment})"
      email        = "${local.name}-${a.id}@${var.project}.iam.gserviceaccount.com"
      member       = "serviceAccount:${local.name}-${a.id}@${var.project}.iam.gserviceaccount.com"
    })
  }

  queues = {
    for key, q in local.description.queues : key => merge(q, {
      name = "${local.name}-${q.name}"
      path = "projects/${var.project}/locations/${var.region}/queues/${local.name}-${q.name}"
    })
  }

  # What an env entry's "from" names.
  sources = merge(
    { project = var.project },
    { for key, a in local.accounts : "account:${key}" => a.email },
    { for key, q in local.queues : "queue:${key}" => q.path },
  )

  # An entry without "functions" goes to every function.
  env = {
    for name in keys(local.functions) : name => merge(var.settings, {
      for v, e in local.description.env : v => local.sources[e.from] if contains(try(e.functions, [name]), name)
    })
  }

  wired_secrets = [
    for s in local.description.secrets : s.env if alltrue(concat(
      [for v in try(s.wired_when.set, []) : lookup(var.settings, v, "") != ""],
      [for v in try(s.wired_when.unset, []) : lookup(var.settings, v, "") == ""],
    ))
  ]

  # A secret without "functions" goes to every function; an account may
  # read what the functions running as it are given
  # (deployment.Description.AccountSecrets on the gcloud path).
  function_secrets = {
    for name in keys(local.functions) : name => [
      for s in local.description.secrets : s.env if contains(local.wired_secrets, s.env) && contains(try(s.functions, [name]), name)
    ]
  }

  secret_grants = merge([
    for name, f in local.functions : {
      for s in local.function_secrets[name] : "${s} ${f.account}" => { secret = s, account = f.account }
    }
  ]...)

  invokers = merge([
    for name, f in local.functions : {
      for key in f.invokers : "${name} ${key}" => { function = name, account = key }
    }
  ]...)

  enqueuers = merge([
    for key, q in local.queues : {
      for a in q.enqueuers : "${key} ${a}" => { queue = key, account = a }
    }
  ]...)
}

output "name" {
  description = "What every unique name of the environment starts with, e.g. eh-staging."
  value       = local.name

  precondition {
    condition     = can(regex(local.description.naming.environment_pattern, var.environment))
    error_message = "environment must match ${local.description.naming.environment_pattern}: lower-case letters, digits and dashes, at most 12 characters."
  }
}

output "labels" {
  description = "Labels of everything that takes labels: the description's, and environment."
  value       = local.labels
}

output "runtime" {
  description = "Cloud Functions runtime (go.mod's go directive)."
  value       = local.description.runtime
}

output "apis" {
  description = "Services a fresh project needs."
  value       = local.description.apis
}

output "accounts" {
  description = "Service accounts by key: id, display_name, email, member."
  value       = local.accounts
}

output "project_roles" {
  description = "Project-wide grants by key: account (key), role, why, condition ({title, expression} or null)."
  value       = { for key, r in local.description.project_roles : key => merge({ condition = null }, r) }
}

output "deployer_acts_as" {
  description = "Accounts (keys) the deploying identity may act as, each granted on the account."
  value       = local.description.deployer_acts_as
}

output "promotion" {
  description = "The promotion marks' bucket and its grants, keyed \"role member\": only the writers may create marks, only the readers read them."
  value = {
    bucket = "${var.project}-${local.name}-${local.description.promotion.bucket}"
    # A writer reads too: it looks for a mark before adding one, which
    # writer_role (create only) could not replace.
    grants = merge(
      { for m in var.promotion_writers : "${local.description.promotion.writer_role} ${m}" => { role = local.description.promotion.writer_role, member = m } },
      { for m in concat(var.promotion_writers, var.promotion_readers) : "${local.description.promotion.reader_role} ${m}" => { role = local.description.promotion.reader_role, member = m } },
    )
  }

  precondition {
    condition     = length(setintersection(var.promotion_writers, var.promotion_readers)) == 0
    error_message = "promotion_readers must not hold a promotion writer: a reader is the next environment's trigger, the writer this one's main-branch trigger."
  }
}

output "functions" {
  description = "Settings of each function by name (its entry point), overrides applied: deployed_name (the Cloud Functions name), account (key of its identity), memory, cpu, concurrency, timeout_seconds, min_instances, max_instances, public, invokers."
  value       = local.functions
}

output "public_functions" {
  description = "Functions anyone may call (Twilio and Strapi send no Google credentials)."
  value       = sort([for name, f in local.functions : name if f.public])
}

output "invokers" {
  description = "Service accounts that may invoke a function, keyed \"function account\"."
  value       = local.invokers
}

output "env" {
  description = "Plain environment of each function."
  value       = local.env
}

output "owned_env" {
  description = "Names of the variables deploy sets itself; settings must not hold them."
  value       = keys(local.description.env)
}

output "secret_ids" {
  description = "Secret Manager secret of each secret variable."
  value       = { for s in local.description.secrets : s.env => "${local.name}-${s.secret}" }
}

output "wired_secrets" {
  description = "Secret variables the functions read with these settings."
  value       = sort(local.wired_secrets)
}

output "function_secrets" {
  description = "Secret variables each function is given: the wired ones its description entry allows."
  value       = local.function_secrets
}

output "secret_grants" {
  description = "Who may read which secret, keyed \"variable account\": each account the secrets of the functions that run as it."
  value       = local.secret_grants
}

output "queues" {
  description = "Cloud Tasks queues by key, with their full path."
  value       = local.queues
}

output "enqueuers" {
  description = "Service accounts that may add tasks to a queue (and sign its tasks' tokens), keyed \"queue account\"."
  value       = local.enqueuers
}

output "full_sync" {
  description = "The full-sync job: job name, function, account (key)."
  value       = merge(local.description.full_sync, { job = "${local.name}-${local.description.full_sync.job}" })
}

output "pre_event_filters" {
  description = "Conversations events the pre-event hook handles."
  value       = local.description.pre_event_filters
}

output "post_event_filters" {
  description = "Conversations events the post-event hook handles."
  value       = local.description.post_event_filters
}

output "strapi_events" {
  description = "Strapi webhook events sync handles."
  value       = local.description.strapi_events
}

output "line_sweep" {
  description = "The waiting line's sweep job: job name, function, account (key), schedule."
  value       = merge(local.description.line_sweep, { job = "${local.name}-${local.description.line_sweep.job}" })
}

output "taskrouter_events" {
  description = "TaskRouter workspace events the event callback (taskrouter-events) needs."
  value       = local.description.taskrouter_events
}
