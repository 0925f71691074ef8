"""order-api, the sample service that the kit deploys with CodeDeploy and watches behind the ALB.

``order_api`` is the HTTP server, in a good and a bad release. ``bundle/`` holds the
CodeDeploy revision files (AppSpec, lifecycle hook scripts, systemd unit), and
``tools/release.py`` zips them with this package into a deployable bundle.
"""
