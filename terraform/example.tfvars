# Copy to e.g. prod.tfvars (git-ignored) and replace every value. The
# placeholders only pass validation. Never put a secret here: secrets go to
# Secret Manager (README "Secrets").

project = "my-expert-hub-project"
region  = "europe-west1"
# firestore_location = "eur3" # default: region

twilio_account_sid              = "AC00000000000000000000000000000000"
frontline_workspace_sid         = "WS00000000000000000000000000000000"
frontline_pool_queue_sid        = "WQ00000000000000000000000000000000"
frontline_messaging_service_sid = "MG00000000000000000000000000000000"
# twilio_api_key                = "SK00000000000000000000000000000000" # also wires twilio-api-secret

frontline_proxy_number = "+15555550100"
frontline_proxy_numbers = {
  GB = "+445555550100"
  FR = "+335555550100"
}
# fallback_worker    = "someone@example.com"
# welcome_message    = "Welcome to the Expert Hub. How can I help you?"
# returning_customer = "offer"

# A Flex contact center (a second Twilio account): wires flex-auth-token and handoff-secret.
# flex_account_sid   = "AC11111111111111111111111111111111"
# flex_workspace_sid = "WS11111111111111111111111111111111"
# flex_workflow_sid  = "WW11111111111111111111111111111111"
# flex_api_key       = "SK11111111111111111111111111111111" # also wires flex-api-secret
# extra_env          = { CONTACT_CENTER_KEYWORDS = "contact center,support", CONTACT_CENTER_AFTER = "10m" }

strapi_url     = "https://cms.example.com"
strapi_version = "auto"
# strapi_identifier = "frontline_app" # password login: wires strapi-password instead of strapi-api-token

# extra_env = { HANDLER_TIMEOUT = "4s", CACHE_TTL = "30s", WORK_DELAY = "5s", WORK_MAX_AGE = "15m" }

# Keep one instance of every function warm (cold starts can exceed Twilio's 5 s):
# function_overrides = {
#   crm      = { min_instances = 1 }
#   outgoing = { min_instances = 1 }
# }

# sync_schedule  = "0 3 * * *"
# sync_time_zone = "Europe/Paris"
