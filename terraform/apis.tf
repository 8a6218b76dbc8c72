resource "google_project_service" "api" {
  # The description's apis (internal/deployment/deployment.json).
  for_each = toset(module.deployment.apis)
  service  = each.value

  # Other workloads of the project may use the same APIs.
  disable_on_destroy = false
}
