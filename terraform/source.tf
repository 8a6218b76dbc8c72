locals {
  repo_root = "${path.module}/.."

  # The build needs the root package, internal/, go.mod and go.sum: the same
  # selection as .gcloudignore. Whatever else sits at the top level is
  # excluded by name, so a new file or directory (.env, notes, state) never
  # ships by accident.
  source_top_level = toset(concat(
    tolist(fileset(local.repo_root, "*")),
    [for f in fileset(local.repo_root, "*/**") : split("/", f)[0]],
  ))
  source_excludes = concat(
    [
      for f in local.source_top_level : f
      if !(f == "internal" || f == "go.mod" || f == "go.sum" || (endswith(f, ".go") && !endswith(f, "_test.go")))
    ],
    [
      # Hidden files and directories anywhere (".*" would also match ".",
      # the root itself, and leave the archive empty).
      "**/.?*",
      # The builder compiles exactly one package at the root: a root
      # _test.go file of another package would break it.
      "**/*_test.go", "**/testdata", "**/*.md",
    ],
  )
}

data "archive_file" "source" {
  type             = "zip"
  source_dir       = local.repo_root
  excludes         = local.source_excludes
  output_path      = "${path.module}/.build/source.zip"
  output_file_mode = "0644" # same hash on every machine
}

resource "google_storage_bucket" "source" {
  name                        = "${var.project}-${local.name}-source"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"

  # Only build inputs live here; each apply uploads what it needs.
  force_destroy = true

  depends_on = [google_project_service.api]
}

resource "google_storage_bucket_object" "source" {
  # The hash in the name makes a code change a new object, which is what
  # makes the functions rebuild.
  name   = "${local.name}-${data.archive_file.source.output_md5}.zip"
  bucket = google_storage_bucket.source.name
  source = data.archive_file.source.output_path
}
