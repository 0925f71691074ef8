"""CDK stacks, constructs and configuration of the alarm and auto-rollback kit."""
