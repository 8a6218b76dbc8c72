# tflint's bundled Terraform ruleset (no plugin to download: CI runs
# offline), in its recommended preset. .ci/run pins tflint's version.
config {
  call_module_type = "none"
}

plugin "terraform" {
  enabled = true
  preset  = "recommended"
}
