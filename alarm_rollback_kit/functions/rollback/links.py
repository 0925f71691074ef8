"""AWS console links for the page, built from the region and ids alone (no AWS calls).

Console deep links are not an AWS API: AWS documents the consoles, not their URL formats,
so every format the kit uses lives here, in one place to fix when a console moves. Each
function returns a full ``https://<region>.console.aws.amazon.com/...`` URL:

- a CodeDeploy deployment: ``/codesuite/codedeploy/deployments/<id>?region=<region>``;
- a CloudWatch alarm: ``/cloudwatch/home?region=<region>#alarmsV2:alarm/<name>``;
- a CloudWatch dashboard: ``/cloudwatch/home?region=<region>#dashboards/dashboard/<name>``;
- a CloudWatch Logs Insights query: ``#logsV2:logs-insights`` followed by the console's
  own encoding of ``?queryDetail=<object>`` (see ``_insights_fragment``).

China and GovCloud partitions use other console hosts; the kit links the commercial one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import quote

# How far back the decision-log query looks, in seconds: a page is read within hours.
INSIGHTS_LOOKBACK_SECONDS = 6 * 3600


@dataclass(frozen=True, kw_only=True)
class Console:
    """Where the links point: the region, and the optional dashboard and log group."""

    region: str
    dashboard_name: str | None = None
    log_group_name: str | None = None

    @property
    def _base(self) -> str:
        return f"https://{self.region}.console.aws.amazon.com"

    def deployment(self, deployment_id: str) -> str:
        return (
            f"{self._base}/codesuite/codedeploy/deployments/{quote(deployment_id, safe='')}"
            f"?region={self.region}"
        )

    def alarm(self, alarm_name: str) -> str:
        return f"{self._base}/cloudwatch/home?region={self.region}#alarmsV2:alarm/{quote(alarm_name, safe='')}"

    def dashboard(self) -> str | None:
        if not self.dashboard_name:
            return None
        name = quote(self.dashboard_name, safe="")
        return f"{self._base}/cloudwatch/home?region={self.region}#dashboards/dashboard/{name}"

    def insights(self, query: str) -> str | None:
        """A Logs Insights link running ``query`` over the function's log group."""
        if not self.log_group_name:
            return None
        detail = {
            "end": 0,
            "start": -INSIGHTS_LOOKBACK_SECONDS,
            "timeType": "RELATIVE",
            "unit": "seconds",
            "editorString": query,
            "source": [self.log_group_name],
        }
        return (
            f"{self._base}/cloudwatch/home?region={self.region}#logsV2:logs-insights"
            + _insights_fragment(detail)
        )


def region_of(arn: str | None) -> str | None:
    """The region field of an ARN (``arn:partition:service:region:account:...``)."""
    parts = (arn or "").split(":")
    return parts[3] if len(parts) > 4 and parts[0] == "arn" and parts[3] else None


def decision_query(*, alarm_name: str | None, deployment_id: str | None) -> str:
    """The Logs Insights query that finds this decision's JSON line (``logs.JsonFormatter``)."""
    filters = ['message = "decision"']
    if deployment_id:
        filters.append(f"deploymentId = {_insights_string(deployment_id)}")
    elif alarm_name:
        filters.append(f"alarmName = {_insights_string(alarm_name)}")
    return (
        "fields @timestamp, action, reason, deploymentId, rollbackDeploymentId, eventId\n"
        f"| filter {' and '.join(filters)}\n"
        "| sort @timestamp desc\n"
        "| limit 20"
    )


def _insights_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _insights_fragment(detail: Mapping[str, object]) -> str:
    # The console serializes the query object as JSURL (strings "~'" with '%' written
    # '*'), escapes that, prefixes "?queryDetail=", percent-encodes it again and finally
    # writes every '%' as '$'.
    serialized = _jsurl(detail)
    # Python's quote never encodes "~"; JavaScript's escape(), which the console uses, does.
    escaped = quote(serialized, safe="*@-_+./").replace("~", "%7E")
    return quote("?queryDetail=" + escaped, safe="*-_.!'()").replace("%", "$")


def _star_encode(text: str) -> str:
    # Letters, digits and "-._" stay; every other UTF-8 byte becomes "*xx" (lowercase hex,
    # as the console writes it). "~", "(", ")" and "'" must not stay raw: they delimit.
    return "".join(
        chr(byte)
        if chr(byte).isascii() and (chr(byte).isalnum() or chr(byte) in "-._")
        else f"*{byte:02x}"
        for byte in text.encode("utf-8")
    )


def _jsurl(value: object) -> str:
    # JSURL: every value starts with "~"; an object is "~(" key value "~" key value ")",
    # an array "~(" values ")".
    if isinstance(value, bool):
        return "~true" if value else "~false"
    if isinstance(value, int | float):
        return f"~{value}"
    if isinstance(value, str):
        return "~'" + _star_encode(value)
    if isinstance(value, Mapping):
        return "~(" + "~".join(f"{key}{_jsurl(item)}" for key, item in value.items()) + ")"
    if isinstance(value, Sequence):
        return "~(" + "".join(_jsurl(item) for item in value) + ")"
    raise TypeError(f"cannot encode {type(value).__name__} in a Logs Insights link")
