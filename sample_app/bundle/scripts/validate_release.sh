#!/bin/bash
# ValidateService, second script: once validate_service.sh has seen the new release answer
# /health, send the release's critical requests (config/validate.json) through the real
# code path and fail the deployment on this instance if any answer is incomplete, malformed
# or wrongly framed. The instance is still out of the target group here, so a bad release
# fails its first batch without serving a viewer. Set "enabled": false in validate.json to
# rely on the alarm path alone.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ENV_FILE="${ORDER_API_ENV_FILE:-/etc/order-api/order-api.env}"
CHECKS_FILE="${VALIDATE_CHECKS_FILE:-$HERE/../config/validate.json}"

# shellcheck source=/dev/null
. "$ENV_FILE"
# The revision's own copy of the checker and its checks, read from the unpacked bundle.
exec python3 "$HERE/../checks/pre_traffic.py" --config "$CHECKS_FILE" --port "$ORDER_API_PORT"
