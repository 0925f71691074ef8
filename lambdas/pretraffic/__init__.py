"""BeforeAllowTraffic hook of the order-api's CodeDeploy Lambda deployments."""
