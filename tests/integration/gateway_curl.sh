#!/bin/sh
# A non-Python client of the gateway: curl and sed only, as an agency system's shell script
# would call it. Usage: gateway_curl.sh URL TOKEN DIR, where DIR holds notice.json, upload.json
# (metadata) and 通知.pdf; prints the event id of each submission, one a line. Exits non-zero
# on any answer it did not expect. (README.md, "The HTTP gateway", shows the same calls.)
set -eu
url=$1 token=$2 dir=$3
auth="Authorization: Bearer $token"

field() {  # the value of a top-level string field of a JSON answer
  sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p"
}

expect() {  # expect STATUS FILE: the status curl wrote must be STATUS
  if [ "$(cat "$2.status")" != "$1" ]; then
    echo "expected HTTP $1, got $(cat "$2.status"): $(cat "$2")" >&2
    exit 1
  fi
}

# One step: metadata and files in one multipart request, with an Idempotency-Key.
curl -sS -o "$dir/one" -w '%{http_code}' -H "$auth" -H "Idempotency-Key: curl-one-step" \
  -F "metadata=@$dir/notice.json;type=application/json" \
  -F "file=@$dir/通知.pdf;type=application/pdf" \
  "$url/v1/submissions" > "$dir/one.status"
expect 202 "$dir/one"
event=$(field event_id < "$dir/one")
echo "$event"

# Retried with the same key: the same receipt.
curl -sS -o "$dir/again" -w '%{http_code}' -H "$auth" -H "Idempotency-Key: curl-one-step" \
  -F "metadata=@$dir/notice.json;type=application/json" \
  -F "file=@$dir/通知.pdf;type=application/pdf" \
  "$url/v1/submissions" > "$dir/again.status"
expect 202 "$dir/again"
[ "$(field event_id < "$dir/again")" = "$event" ] || { echo "a retry gave another event" >&2; exit 1; }

# Two steps: create an upload, PUT the file's bytes, commit with the metadata.
curl -sS -o "$dir/upload" -w '%{http_code}' -X POST -H "$auth" "$url/v1/uploads" > "$dir/upload.status"
expect 201 "$dir/upload"
upload=$(field upload_id < "$dir/upload")
curl -sS -o "$dir/put" -w '%{http_code}' -X PUT -H "$auth" -H "Content-Type: application/pdf" \
  --data-binary "@$dir/通知.pdf" "$url/v1/uploads/$upload/files/1?file_name=%E9%80%9A%E7%9F%A5.pdf" \
  > "$dir/put.status"
expect 200 "$dir/put"
curl -sS -o "$dir/commit" -w '%{http_code}' -H "$auth" -H "Content-Type: application/json" \
  --data-binary "@$dir/upload.json" "$url/v1/uploads/$upload/commit" > "$dir/commit.status"
expect 202 "$dir/commit"
field event_id < "$dir/commit"

# Where the first one is.
curl -sS -o "$dir/status" -w '%{http_code}' -H "$auth" "$url/v1/submissions/$event" > "$dir/status.status"
expect 200 "$dir/status"
[ "$(field status < "$dir/status")" = received ] || { echo "status: $(cat "$dir/status")" >&2; exit 1; }

# No token: a problem+json 401 with its reason code.
curl -sS -o "$dir/anon" -w '%{http_code}' -X POST "$url/v1/uploads" > "$dir/anon.status"
expect 401 "$dir/anon"
[ "$(field reason < "$dir/anon")" = unauthorized ] || { echo "anon: $(cat "$dir/anon")" >&2; exit 1; }
