#!/bin/bash
# ApplicationStart: start the freshly installed release; enable it so a reboot keeps it.
set -euo pipefail

systemctl enable order-api.service
systemctl restart order-api.service
echo "order-api started"
