"""alarm-rollback-kit: CDK v2 constructs that roll a CodeDeploy release back on ALB 5xx.

One import root for everything a user's stack needs: the constructs and the props they
take. The repository's own sample stacks (``stacks/``) are composed from this package
exactly as a user's stack would be.
"""
