#!/bin/bash
# ValidateService: wait until the local /health answers like the ALB's matcher wants
# (200 or 204; order-api answers 204) and /version reports the release just installed,
# so CodeDeploy does not put an instance still running the old process back into
# service. The bad release passes this too: its fault is only on POST /orders, which
# validate_release.sh, the next script of this event, exercises.
set -euo pipefail

ENV_FILE="${ORDER_API_ENV_FILE:-/etc/order-api/order-api.env}"
RELEASE_FILE="${ORDER_API_RELEASE_FILE:-/opt/order-api/release.json}"
ATTEMPTS="${VALIDATE_ATTEMPTS:-30}"
SLEEP_SECONDS="${VALIDATE_SLEEP_SECONDS:-2}"

# shellcheck source=/dev/null
. "$ENV_FILE"
BASE_URL="http://127.0.0.1:${ORDER_API_PORT}"
EXPECTED_VERSION="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["version"])' "$RELEASE_FILE")"

for attempt in $(seq 1 "$ATTEMPTS"); do
    status="$(curl --silent --output /dev/null --write-out '%{http_code}' --max-time 2 \
        "$BASE_URL/health" || true)"
    if [ "$status" = "204" ] || [ "$status" = "200" ]; then
        running="$(curl --silent --max-time 2 "$BASE_URL/version" \
            | python3 -c 'import json,sys; print(json.load(sys.stdin)["version"])' || true)"
        if [ "$running" = "$EXPECTED_VERSION" ]; then
            echo "healthy: /health $status, version $running (attempt $attempt)"
            exit 0
        fi
        echo "attempt $attempt: /health $status but version '$running', want '$EXPECTED_VERSION'"
    else
        echo "attempt $attempt: /health answered '$status'"
    fi
    sleep "$SLEEP_SECONDS"
done

echo "order-api did not become healthy on $BASE_URL after $ATTEMPTS attempts" >&2
exit 1
