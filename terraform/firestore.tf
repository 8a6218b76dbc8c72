resource "google_firestore_database" "cache" {
  name        = var.firestore_database
  location_id = coalesce(var.firestore_location, var.region)
  type        = "FIRESTORE_NATIVE"

  # The cache can be rebuilt by a full sync, but not in an instant.
  delete_protection_state = "DELETE_PROTECTION_ENABLED"
  deletion_policy         = "ABANDON"

  depends_on = [google_project_service.api]
}

locals {
  # The composite indexes the queries of internal/fsstore need, read from
  # the list that package keeps next to them (firestore.indexes.json
  # format), so a new query's index ships with the code that needs it. Its
  # collectionGroup names the default collection; the indexes are created
  # on var.firestore_collection.
  firestore_spec = jsondecode(file("${path.module}/../internal/fsstore/indexes.json"))
  firestore_indexes = {
    for index in local.firestore_spec.indexes :
    join("-", [for f in index.fields : f.fieldPath if f.fieldPath != "__name__"]) => index
  }
}

resource "google_firestore_index" "cache" {
  for_each    = local.firestore_indexes
  database    = google_firestore_database.cache.name
  collection  = var.firestore_collection
  query_scope = try(each.value.queryScope, "COLLECTION")

  dynamic "fields" {
    for_each = each.value.fields
    content {
      field_path   = fields.value.fieldPath
      order        = try(fields.value.order, null)
      array_config = try(fields.value.arrayConfig, null)
    }
  }
}

# The flow's records (ledger, assignments, line, handoffs, notes) carry
# expire_at; these TTL policies (the fieldOverrides of the same file) let
# Firestore delete them when it passes.
resource "google_firestore_field" "ttl" {
  for_each = {
    for f in try(local.firestore_spec.fieldOverrides, []) :
    "${f.collectionGroup}.${f.fieldPath}" => f if try(f.ttl, false)
  }
  database   = google_firestore_database.cache.name
  collection = each.value.collectionGroup
  field      = each.value.fieldPath

  ttl_config {}
  # No query reads expire_at: exempting it from indexing is Google's advice
  # for TTL fields (an empty index_config removes its single-field indexes).
  index_config {}
}
