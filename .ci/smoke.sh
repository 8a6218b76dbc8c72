#!/usr/bin/env bash
# Smoke test after a deploy (cloudbuild.yaml's smoke step): every public
# function must refuse an unauthenticated POST itself, with 401 or 403.
# Anything else means it is missing (404), broken (5xx, or Unavailable's
# 200 from pre-event) or lets strangers in (2xx).
#
#   bash .ci/smoke.sh URL_FILE
#
# URL_FILE holds one URL a line: `terraform output -raw smoke_test_urls`,
# which ends without a newline, so the last line is read all the same.
# Every URL is tried, even after a failure, and the script exits non-zero
# if any failed. A cold start may answer 429 or 5xx or not at all: such
# answers are retried SMOKE_ATTEMPTS times (default 5), SMOKE_DELAY
# seconds apart (default 5).
set -euo pipefail

file=${1:?usage: smoke.sh URL_FILE}
attempts=${SMOKE_ATTEMPTS:-5}
delay=${SMOKE_DELAY:-5}

tried=0
failed=0
# `|| [[ -n $url ]]`: read fails on a last line without a newline but
# still fills url.
while IFS= read -r url || [[ -n $url ]]; do
  url=${url%$'\r'}
  [[ -n ${url// /} ]] || continue
  tried=$((tried + 1))
  code=000
  for ((i = 1; i <= attempts; i++)); do
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 30 -X POST "$url" </dev/null || true)
    case $code in
      000 | 408 | 429 | 5??) if ((i < attempts)); then sleep "$delay"; fi ;;
      *) break ;;
    esac
  done
  case $code in
    401 | 403) echo "ok   $url -> $code" ;;
    *)
      echo "FAIL $url -> $code (want 401 or 403: the function refusing an unauthenticated request)" >&2
      failed=$((failed + 1))
      ;;
  esac
done <"$file"

if ((tried == 0)); then
  echo "smoke: no URL in $file" >&2
  exit 1
fi
if ((failed > 0)); then
  echo "smoke: $failed of $tried functions failed" >&2
  exit 1
fi
echo "smoke: all $tried functions answered"
