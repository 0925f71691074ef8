#!/bin/bash
# AfterInstall: the revision's files are in /opt/order-api; install its systemd unit and
# environment file, and make the tree readable by the service user (it stays root-owned).
set -euo pipefail

APP_HOME=/opt/order-api

install -m 0644 -o root -g root "$APP_HOME/config/order-api.service" \
    /etc/systemd/system/order-api.service
install -m 0644 -o root -g root "$APP_HOME/config/order-api.env" /etc/order-api/order-api.env
chmod -R u=rwX,go=rX "$APP_HOME"
systemctl daemon-reload
