#!/usr/bin/env bash
# Tell Launch Ready about a release, from the client's CI (bash, openssl, curl).
#
#   LAUNCHREADY_URL=https://panel.example.com LAUNCHREADY_TOKEN=lrd_… LAUNCHREADY_SECRET=lrs_… \
#     scripts/post-deploy.sh [--rollback] ENVIRONMENT VERSION [COMMIT] [ACTOR]
#
# ENVIRONMENT: development, staging or production. COMMIT defaults to $GITHUB_SHA or
# `git rev-parse HEAD`; ACTOR to $GITHUB_ACTOR or $USER. The request is signed as
# docs/deploys.md says: X-LaunchReady-Signature: sha256=HMAC-SHA256(secret, "timestamp.body").
# Prints the panel's JSON answer; exits 1 (with the panel's reason on stderr) when refused.
set -euo pipefail

kind=deploy
if [[ "${1:-}" == "--rollback" ]]; then kind=rollback; shift; fi
if [[ $# -lt 2 ]]; then
  echo "usage: $0 [--rollback] ENVIRONMENT VERSION [COMMIT] [ACTOR]" >&2
  exit 2
fi
: "${LAUNCHREADY_URL:?set LAUNCHREADY_URL (the panel, https://…)}"
: "${LAUNCHREADY_TOKEN:?set LAUNCHREADY_TOKEN (from the project's Deploys page)}"
: "${LAUNCHREADY_SECRET:?set LAUNCHREADY_SECRET (from the project's Deploys page)}"

environment=$1
version=$2
commit=${3:-${GITHUB_SHA:-$(git rev-parse HEAD 2>/dev/null || true)}}
actor=${4:-${GITHUB_ACTOR:-${USER:-ci}}}

json_string() {  # a JSON string literal of $1
  local s=$1
  s=${s//\\/\\\\}; s=${s//\"/\\\"}; s=${s//$'\n'/\\n}; s=${s//$'\r'/\\r}; s=${s//$'\t'/\\t}
  printf '"%s"' "$s"
}

body="{\"kind\":\"$kind\",\"environment\":$(json_string "$environment"),\"version\":$(json_string "$version")"
if [[ -n "$commit" ]]; then body+=",\"commit\":$(json_string "$commit")"; fi
body+=",\"actor\":$(json_string "$actor")}"

timestamp=$(date +%s)
# HMAC-SHA256 over exactly the bytes sent: "<timestamp>.<body>", no trailing newline.
signature=$(printf '%s.%s' "$timestamp" "$body" \
  | openssl dgst -sha256 -hmac "$LAUNCHREADY_SECRET" -hex | sed 's/^.*= *//')

answer=$(curl -sS --max-time 30 -X POST "${LAUNCHREADY_URL%/}/hooks/deploy" \
  -H "Authorization: Bearer $LAUNCHREADY_TOKEN" \
  -H "Content-Type: application/json" \
  -H "X-LaunchReady-Timestamp: $timestamp" \
  -H "X-LaunchReady-Signature: sha256=$signature" \
  --data-binary "$body" -w $'\n%{http_code}')
status=${answer##*$'\n'}
reply=${answer%$'\n'*}
if [[ "$status" != 2* ]]; then
  echo "Launch Ready refused the deploy: HTTP $status $reply" >&2
  exit 1
fi
printf '%s\n' "$reply"
