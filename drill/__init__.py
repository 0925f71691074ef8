"""Offline drill for the alarm and auto-rollback kit: replay incidents without AWS.

``evaluator`` evaluates CloudWatch alarms as the CloudWatch User Guide documents (moto does
not), ``metric_math`` parses and evaluates their math expressions, ``scenario`` loads the
incident scenarios in ``scenarios/``, ``backtest`` replays the synthesized rollback alarms
over real metric history, and ``codedeploy_gaps`` fills moto's CodeDeploy gaps. The runner
(``python -m drill``: ``runner``, with ``template`` reading cdk.out, ``function`` loading
the rollback function from its asset, ``world`` setting up moto, ``report`` and ``plot``
for the output) ties them together; ``bench`` measures the kit.
"""
