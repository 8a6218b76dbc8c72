# What is deployed (functions, identities, variables deploy owns, secrets,
# queues) is described once, in internal/deployment/deployment.json, which the
# gcloud path embeds too; ./deployment works it out for this project.
module "deployment" {
  source             = "./deployment"
  project            = var.project
  environment        = var.environment
  region             = var.region
  settings           = local.function_env
  function_overrides = var.function_overrides
  promotion_writers  = [for e in var.promotion_writers : "serviceAccount:${e}"]
  promotion_readers  = [for e in var.promotion_readers : "serviceAccount:${e}"]
}

locals {
  # Every unique name of this environment starts with local.name
  # (eh-staging, eh-production: the description's naming), so that two
  # environments can share a project without a collision.
  name = module.deployment.name

  functions        = module.deployment.functions
  public_functions = module.deployment.public_functions

  functions_origin = "https://${var.region}-${var.project}.cloudfunctions.net"
  public_base_url  = coalesce(var.public_base_url, local.functions_origin)
  # The URLs Twilio and Strapi call, and the ones signatures are checked
  # against (config.PublicURL): a function is served at /<deployed name>
  # (eh-staging-crm), which its entry point (crm) is not, so each is given
  # to every function as PUBLIC_URL_<FUNCTION>.
  public_urls = { for name, f in local.functions : name => "${local.public_base_url}/${f.deployed_name}" }
  public_url_env = {
    for name in keys(local.functions) : "PUBLIC_URL_${upper(replace(name, "-", "_"))}" => local.public_urls[name]
  }

  # The operator's settings, by config.Vars name. Empty values are left out
  # so the product's defaults apply. Secrets are never here (see
  # local.secret_ids), nor the variables deploy sets itself
  # (module.deployment.owned_env: GOOGLE_CLOUD_PROJECT, service accounts,
  # the queue), which the module adds per function.
  settings = {
    PUBLIC_BASE_URL              = local.public_base_url
    TWILIO_ACCOUNT_SID           = var.twilio_account_sid
    TWILIO_API_KEY               = var.twilio_api_key
    FRONTLINE_WORKSPACE          = var.frontline_workspace_sid
    FRONTLINE_DEFAULT_POOL_QUEUE = var.frontline_pool_queue_sid
    FRONTLINE_MESSAGING_SERVICE  = var.frontline_messaging_service_sid
    FRONTLINE_PROXY_NUMBER       = var.frontline_proxy_number
    FALLBACK_WORKER              = var.fallback_worker
    FLEX_ACCOUNT_SID             = var.flex_account_sid
    FLEX_API_KEY                 = var.flex_api_key
    FLEX_WORKSPACE               = var.flex_workspace_sid
    FLEX_WORKFLOW                = var.flex_workflow_sid
    WELCOME_MESSAGE              = var.welcome_message
    RETURNING_CUSTOMER           = var.returning_customer
    STRAPI_URL                   = var.strapi_url
    STRAPI_VERSION               = var.strapi_version
    STRAPI_IDENTIFIER            = var.strapi_identifier
    STRAPI_COLLECTION            = var.strapi_collection
    SYNC_OIDC_AUDIENCE           = local.public_urls[module.deployment.full_sync.function]
    FIRESTORE_DATABASE           = var.firestore_database
    FIRESTORE_COLLECTION         = var.firestore_collection
    LOG_LEVEL                    = var.log_level
  }
  proxy_number_env = {
    for cc, number in var.frontline_proxy_numbers : "FRONTLINE_PROXY_NUMBER_${upper(cc)}" => number
  }
  function_env = merge(var.extra_env, {
    for k, v in merge(local.settings, local.proxy_number_env, local.public_url_env) : k => v if v != null && v != ""
  })
}

resource "google_cloudfunctions2_function" "fn" {
  for_each    = local.functions
  name        = each.value.deployed_name
  location    = var.region
  description = "Expert Hub ${var.environment}: ${each.key}"

  build_config {
    runtime         = module.deployment.runtime
    entry_point     = each.key
    service_account = google_service_account.account["build"].id
    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.source.name
      }
    }
  }

  service_config {
    available_memory                 = each.value.memory
    available_cpu                    = each.value.cpu
    max_instance_request_concurrency = each.value.concurrency
    timeout_seconds                  = each.value.timeout_seconds
    min_instance_count               = each.value.min_instances
    max_instance_count               = each.value.max_instances
    # Twilio and Strapi call from the internet; each public function checks
    # its caller itself (Twilio signature, Strapi secret or scheduler
    # token). Cloud Run checks the callers of the others (IAM, below).
    ingress_settings               = "ALLOW_ALL"
    all_traffic_on_latest_revision = true
    service_account_email          = google_service_account.account[each.value.account].email
    environment_variables          = module.deployment.env[each.key]

    dynamic "secret_environment_variables" {
      for_each = module.deployment.function_secrets[each.key]
      content {
        key        = secret_environment_variables.value
        project_id = var.project
        secret     = google_secret_manager_secret.env[secret_environment_variables.value].secret_id
        # Read at instance start: a new version reaches the functions with
        # the next revision, which changing secret_versions rolls out.
        version = lookup(var.secret_versions, secret_environment_variables.value, "latest")
      }
    }
  }

  lifecycle {
    precondition {
      condition     = alltrue([for name in keys(var.function_overrides) : contains(keys(local.functions), name)])
      error_message = "function_overrides has a key that is not a function: ${join(", ", keys(var.function_overrides))}."
    }
    precondition {
      condition     = each.value.concurrency == 1 || tonumber(each.value.cpu) >= 1
      error_message = "${each.key}: a concurrency above 1 needs cpu >= 1."
    }
    precondition {
      condition     = alltrue([for name in keys(var.secret_versions) : contains(module.deployment.wired_secrets, name)])
      error_message = "secret_versions names a variable that is not a wired secret: ${join(", ", keys(var.secret_versions))}."
    }
    precondition {
      condition     = length(setintersection(keys(var.extra_env), keys(local.secret_ids))) == 0
      error_message = "extra_env must not hold secrets; add them to Secret Manager instead."
    }
    precondition {
      condition     = length(setintersection(keys(var.extra_env), module.deployment.owned_env)) == 0
      error_message = "extra_env must not set ${join(", ", module.deployment.owned_env)}: deploy sets them."
    }
  }

  # A revision only starts once its identity can read the secrets and
  # Firestore, and the build account may build. The accounts and queue its
  # variables name exist first.
  depends_on = [
    google_secret_manager_secret_iam_member.runtime,
    google_project_iam_member.roles,
    google_service_account_iam_member.deployer,
    google_firestore_database.cache,
    google_service_account.account,
    google_cloud_tasks_queue.queue,
  ]
}

# The public functions are called by Twilio or Strapi, which send no Google
# credentials; invoking a 2nd gen function needs run.invoker on its Cloud
# Run service. A domain-restricted-sharing org policy can block allUsers.
resource "google_cloud_run_service_iam_member" "public" {
  for_each = { for name, fn in google_cloudfunctions2_function.fn : name => fn if contains(local.public_functions, name) }
  location = each.value.location
  service  = each.value.name
  role     = "roles/run.invoker"
  member   = "allUsers"
}

# The description's invokers: the scheduler's identity may invoke sync even
# if sync stops being public, and only the queue's identity may invoke work.
resource "google_cloud_run_service_iam_member" "invoker" {
  for_each = module.deployment.invokers
  location = google_cloudfunctions2_function.fn[each.value.function].location
  service  = google_cloudfunctions2_function.fn[each.value.function].name
  role     = "roles/run.invoker"
  member   = google_service_account.account[each.value.account].member
}

moved {
  from = google_cloud_run_service_iam_member.scheduler
  to   = google_cloud_run_service_iam_member.invoker["sync scheduler"]
}
