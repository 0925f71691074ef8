"""The shared secret that proves a request to the ALB came through the CloudFront edge.

CloudFront adds ``X-Origin-Verify: <secret>`` to every request it forwards (an origin
custom header) and the ALB listener forwards only requests that carry it, answering 403
to anything else. ``Edge`` owns the secret, because the edge is what sends it; the
service's listener is handed the same value to require. The value stays out of every
template: both ends hold a Secrets Manager dynamic reference, which CloudFormation
resolves when it creates or updates the resource; a changed secret reaches neither end
until a stack update does (CloudFormation User Guide, "Get a secret or secret value from
Secrets Manager",
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/dynamic-references-secretsmanager.html).
The resolved value can still show in CloudFront's and the ALB's own configuration, so the
secret keeps direct traffic off the ALB; it is not a credential to guard beyond that.
"""

from __future__ import annotations

from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from alarm_rollback_kit.compliance import KitConstruct, acknowledge

# Header CloudFront adds and the listener requires when the service sits behind the edge.
ORIGIN_VERIFY_HEADER = "X-Origin-Verify"


class OriginVerifySecret(KitConstruct):
    """A generated 32-character secret and its value as a deploy-time reference (``value``).

    ``value`` is a token that renders as ``{{resolve:secretsmanager:<arn>:SecretString:::}}``;
    used in another stack, CDK passes the secret's ARN across, never the value.
    """

    def __init__(self, scope: Construct, id_: str, *, description: str) -> None:
        super().__init__(scope, id_)
        self.secret = secretsmanager.Secret(
            self,
            "Secret",
            description=description,
            generate_secret_string=secretsmanager.SecretStringGenerator(
                exclude_punctuation=True, password_length=32
            ),
        )
        self.value = self.secret.secret_value.unsafe_unwrap()

    def acknowledge_nag_findings(self) -> None:
        acknowledge(
            self.secret,
            [
                (
                    "AwsSolutions-SMG4",
                    "The value is resolved into the CloudFront origin header and the ALB "
                    "listener rule only at deploy time; rotating it without a redeploy would "
                    "make the ALB answer 403 to every request. Rotate by updating the secret "
                    "and redeploying.",
                )
            ],
        )
