# Promotion (docs/deploy.md, "Promotion with Cloud Build"): the commits
# that passed this environment are marked in a bucket of their own, which
# only the main-branch trigger's account may write (objectCreator: add a
# mark, never replace or delete one) and the next environment's trigger may
# read. A pull-request build runs as another account, without that right,
# so a PR's cloudbuild.yaml cannot forge a mark; nor can the functions'
# accounts (the build account's storage role is conditioned to gcf-v2-*).
resource "google_storage_bucket" "promotion" {
  count                       = length(var.promotion_writers) > 0 ? 1 : 0
  name                        = module.deployment.promotion.bucket
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  labels                      = module.deployment.labels

  depends_on = [google_project_service.api]
}

resource "google_storage_bucket_iam_member" "promotion" {
  for_each = length(var.promotion_writers) > 0 ? module.deployment.promotion.grants : {}
  bucket   = google_storage_bucket.promotion[0].name
  role     = each.value.role
  member   = each.value.member
}
