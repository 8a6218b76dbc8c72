# Non-secret settings only. Secrets (TWILIO_AUTH_TOKEN, STRAPI_API_TOKEN,
# ...) are added to Secret Manager with gcloud, never through variables.

variable "project" {
  description = "Google Cloud project id to deploy to."
  type        = string
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project))
    error_message = "project must be a project id (6-30 lower-case letters, digits, dashes)."
  }
}

variable "environment" {
  description = "Environment this state deploys, e.g. staging or production. Every unique name is eh-<environment>-<name> (eh-staging-crm, eh-staging-run@...) and everything that takes labels is labelled environment = <environment>, so environments can share a project. Short: a service account id has at most 30 characters. Changing it replaces everything."
  type        = string
  validation {
    # internal/deployment/deployment.json naming.environment_pattern (deploy_test.go checks they agree).
    condition     = can(regex("^[a-z]([a-z0-9-]{0,10}[a-z0-9])?$", var.environment))
    error_message = "environment must be 1-12 lower-case letters, digits or dashes, starting with a letter and not ending with a dash."
  }
}

variable "region" {
  description = "Region of the functions, the source bucket and the scheduler job, e.g. europe-west1."
  type        = string
  validation {
    condition     = can(regex("^[a-z]+-[a-z]+[0-9]+$", var.region))
    error_message = "region must look like europe-west1."
  }
}

variable "firestore_location" {
  description = "Firestore location (a region such as europe-west1, or a multi-region such as eur3). Default: var.region. Cannot change once the database exists."
  type        = string
  default     = null
}

variable "firestore_database" {
  description = "Firestore database id (FIRESTORE_DATABASE). Environments sharing a project need one each (e.g. eh-staging); in a project of its own, (default)."
  type        = string
  default     = "(default)"
}

variable "firestore_collection" {
  description = "Collection of the customer cache (FIRESTORE_COLLECTION); its composite indexes are created here."
  type        = string
  default     = "customers"
  validation {
    condition     = can(regex("^[A-Za-z0-9_-]+$", var.firestore_collection))
    error_message = "firestore_collection must be a plain collection id."
  }
}

variable "public_base_url" {
  description = "Origin Twilio calls (PUBLIC_BASE_URL); each function is at <origin>/<name> and signatures are checked against that URL. Default: https://REGION-PROJECT.cloudfunctions.net. Set it only when a proxy or custom domain fronts the functions."
  type        = string
  default     = null
  validation {
    condition     = var.public_base_url == null || can(regex("^https://[^/]+$", var.public_base_url))
    error_message = "public_base_url must be https://host, without a path or trailing slash."
  }
}

variable "twilio_account_sid" {
  description = "Twilio account SID (TWILIO_ACCOUNT_SID), AC followed by 32 hex digits."
  type        = string
  validation {
    condition     = can(regex("^AC[0-9a-fA-F]{32}$", var.twilio_account_sid))
    error_message = "twilio_account_sid must be AC followed by 32 hex digits."
  }
}

variable "twilio_api_key" {
  description = "Optional API key SID (TWILIO_API_KEY, SK...) for REST calls. When set, the secret twilio-api-secret is wired too."
  type        = string
  default     = ""
  validation {
    condition     = var.twilio_api_key == "" || can(regex("^SK[0-9a-fA-F]{32}$", var.twilio_api_key))
    error_message = "twilio_api_key must be empty or SK followed by 32 hex digits."
  }
}

variable "flex_account_sid" {
  description = "Account SID of the Flex contact center (FLEX_ACCOUNT_SID), a second Twilio account; empty: no contact center. When set, flex_workspace_sid and flex_workflow_sid are required and the secrets flex-auth-token and handoff-secret are wired."
  type        = string
  default     = ""
  validation {
    condition     = var.flex_account_sid == "" || can(regex("^AC[0-9a-fA-F]{32}$", var.flex_account_sid))
    error_message = "flex_account_sid must be empty or AC followed by 32 hex digits."
  }
}

variable "flex_api_key" {
  description = "Optional API key SID of the Flex account (FLEX_API_KEY, SK...) for REST calls. When set, the secret flex-api-secret is wired too."
  type        = string
  default     = ""
  validation {
    condition     = var.flex_api_key == "" || can(regex("^SK[0-9a-fA-F]{32}$", var.flex_api_key))
    error_message = "flex_api_key must be empty or SK followed by 32 hex digits."
  }
}

variable "flex_workspace_sid" {
  description = "TaskRouter workspace of the Flex account (FLEX_WORKSPACE, WS...), where contact-center tasks are created."
  type        = string
  default     = ""
  validation {
    condition     = var.flex_workspace_sid == "" || can(regex("^WS[0-9a-fA-F]{32}$", var.flex_workspace_sid))
    error_message = "flex_workspace_sid must be empty or WS followed by 32 hex digits."
  }
}

variable "flex_workflow_sid" {
  description = "TaskRouter workflow of flex_workspace_sid routing Expert Hub's tasks (FLEX_WORKFLOW, WW...)."
  type        = string
  default     = ""
  validation {
    condition     = var.flex_workflow_sid == "" || can(regex("^WW[0-9a-fA-F]{32}$", var.flex_workflow_sid))
    error_message = "flex_workflow_sid must be empty or WW followed by 32 hex digits."
  }
}

variable "frontline_workspace_sid" {
  description = "Frontline TaskRouter workspace SID (FRONTLINE_WORKSPACE, WS...)."
  type        = string
  validation {
    condition     = can(regex("^WS[0-9a-fA-F]{32}$", var.frontline_workspace_sid))
    error_message = "frontline_workspace_sid must be WS followed by 32 hex digits."
  }
}

variable "frontline_pool_queue_sid" {
  description = "TaskRouter queue SID (FRONTLINE_DEFAULT_POOL_QUEUE, WQ...) whose available workers take \"agent\" requests."
  type        = string
  default     = ""
  validation {
    condition     = var.frontline_pool_queue_sid == "" || can(regex("^WQ[0-9a-fA-F]{32}$", var.frontline_pool_queue_sid))
    error_message = "frontline_pool_queue_sid must be empty or WQ followed by 32 hex digits."
  }
}

variable "frontline_messaging_service_sid" {
  description = "Messaging service SID (FRONTLINE_MESSAGING_SERVICE, MG...), informational."
  type        = string
  default     = ""
  validation {
    condition     = var.frontline_messaging_service_sid == "" || can(regex("^MG[0-9a-fA-F]{32}$", var.frontline_messaging_service_sid))
    error_message = "frontline_messaging_service_sid must be empty or MG followed by 32 hex digits."
  }
}

variable "frontline_proxy_number" {
  description = "Default sender of outgoing conversations (FRONTLINE_PROXY_NUMBER), E.164."
  type        = string
  default     = ""
  validation {
    condition     = var.frontline_proxy_number == "" || can(regex("^\\+[1-9][0-9]{6,14}$", var.frontline_proxy_number))
    error_message = "frontline_proxy_number must be empty or an E.164 number such as +14155550100."
  }
}

variable "frontline_proxy_numbers" {
  description = "Sender per customer country: ISO code => E.164 number, e.g. { FR = \"+33...\" }. Each becomes FRONTLINE_PROXY_NUMBER_<CC> (UK is read as GB)."
  type        = map(string)
  default     = {}
  validation {
    condition = alltrue([
      for cc, number in var.frontline_proxy_numbers :
      can(regex("^[A-Za-z]{2}$", cc)) && can(regex("^\\+[1-9][0-9]{6,14}$", number))
    ])
    error_message = "frontline_proxy_numbers keys must be two-letter country codes and values E.164 numbers."
  }
}

variable "fallback_worker" {
  description = "Identity to route \"agent\" requests to when no worker is available (FALLBACK_WORKER); empty: none."
  type        = string
  default     = ""
}

variable "welcome_message" {
  description = "The bot's first message (WELCOME_MESSAGE); empty: the product default."
  type        = string
  default     = ""
}

variable "returning_customer" {
  description = "RETURNING_CUSTOMER: off, offer or route; empty: the product default (off)."
  type        = string
  default     = ""
  validation {
    condition     = contains(["", "off", "offer", "route"], var.returning_customer)
    error_message = "returning_customer must be off, offer or route."
  }
}

variable "strapi_url" {
  description = "Strapi origin (STRAPI_URL), e.g. https://cms.example.com; empty: no Strapi, the Firestore cache only."
  type        = string
  default     = ""
  validation {
    condition     = var.strapi_url == "" || can(regex("^https?://[^/]+", var.strapi_url))
    error_message = "strapi_url must be empty or an http(s) URL."
  }
}

variable "strapi_version" {
  description = "STRAPI_VERSION: 3, 4, 5 or auto."
  type        = string
  default     = "auto"
  validation {
    condition     = contains(["auto", "3", "4", "5"], var.strapi_version)
    error_message = "strapi_version must be auto, 3, 4 or 5."
  }
}

variable "strapi_identifier" {
  description = "Strapi user (STRAPI_IDENTIFIER) when logging in with a password instead of an API token; when set, the secret strapi-password is wired instead of strapi-api-token."
  type        = string
  default     = ""
}

variable "strapi_collection" {
  description = "Plural API id of the Strapi customer collection (STRAPI_COLLECTION); empty: the product default (customers)."
  type        = string
  default     = ""
}

variable "log_level" {
  description = "LOG_LEVEL: debug, info, warn or error."
  type        = string
  default     = "info"
  validation {
    condition     = contains(["debug", "info", "warn", "error"], var.log_level)
    error_message = "log_level must be debug, info, warn or error."
  }
}

variable "extra_env" {
  description = "Other non-secret settings of config.Vars, e.g. { HANDLER_TIMEOUT = \"4s\", WORK_DELAY = \"5s\" }. The settings above win over these; secrets and the variables deploy sets itself (GOOGLE_CLOUD_PROJECT, WORK_QUEUE, ...) are refused."
  type        = map(string)
  default     = {}
}

variable "function_overrides" {
  description = "Per-function changes to the settings of internal/deployment/deployment.json, keyed by function name, e.g. { crm = { min_instances = 1 } }."
  type = map(object({
    memory          = optional(string)
    cpu             = optional(string)
    concurrency     = optional(number)
    timeout_seconds = optional(number)
    min_instances   = optional(number)
    max_instances   = optional(number)
  }))
  default = {}
  validation {
    condition = alltrue([
      for o in values(var.function_overrides) :
      # Conditionals, not ||: Terraform evaluates both sides of ||.
      (o.memory == null ? true : can(regex("^[0-9]+(Mi|Gi)$", o.memory))) &&
      (o.cpu == null ? true : can(tonumber(o.cpu))) &&
      (o.concurrency == null ? true : o.concurrency >= 1 && o.concurrency <= 1000) &&
      (o.timeout_seconds == null ? true : o.timeout_seconds >= 1 && o.timeout_seconds <= 3600) &&
      (o.min_instances == null ? true : o.min_instances >= 0) &&
      (o.max_instances == null ? true : o.max_instances >= 1)
    ])
    error_message = "function_overrides: memory like 512Mi or 1Gi, cpu a number, concurrency 1-1000, timeout_seconds 1-3600, min_instances >= 0, max_instances >= 1."
  }
}

variable "secret_versions" {
  description = "Secret Manager version each secret variable is read from, e.g. { TWILIO_AUTH_TOKEN = \"3\" }; missing: latest. Changing one rolls out a new revision (docs/deploy.md, \"Rotating a secret\")."
  type        = map(string)
  default     = {}
  validation {
    condition     = alltrue([for v in values(var.secret_versions) : can(regex("^([1-9][0-9]*|latest)$", v))])
    error_message = "secret_versions values must be version numbers or latest."
  }
}

variable "sync_schedule" {
  description = "Cron schedule of the full Strapi -> Firestore sync (Cloud Scheduler)."
  type        = string
  default     = "0 3 * * *"
}

variable "sync_time_zone" {
  description = "Time zone of sync_schedule (tz database name)."
  type        = string
  default     = "Etc/UTC"
}

variable "deployer_service_account" {
  description = "E-mail of the account that runs terraform apply (Cloud Build's trigger account). It gets roles/iam.serviceAccountUser on each of the deployment's accounts instead of project-wide. Empty: grant it by hand (docs/deploy.md, Cloud Build)."
  type        = string
  default     = ""
}

variable "promotion_writers" {
  description = "E-mails of the accounts that may mark a commit as passed in this environment: the main-branch trigger's account only, never a pull-request trigger's. Empty: no promotion bucket."
  type        = list(string)
  default     = []
}

variable "promotion_readers" {
  description = "E-mails of the accounts that may read this environment's marks: the next environment's (production's) trigger account."
  type        = list(string)
  default     = []
}
