#!/bin/bash
# ApplicationStop: stop order-api before the new revision is installed. CodeDeploy runs
# this script from the last successful revision, after BlockTraffic has drained the
# instance. An instance that never ran the service has nothing to stop.
set -euo pipefail

if systemctl list-unit-files order-api.service --no-legend 2>/dev/null | grep -q order-api; then
    systemctl stop order-api.service
    echo "order-api stopped"
else
    echo "order-api.service not installed; nothing to stop"
fi
