"""Offline drill for the alarm and auto-rollback kit: replay incidents without AWS.

``python -m drill`` (``runner``) replays a ``scenario`` through the kit read from cdk.out
(``assembly``, ``template``): ``evaluator`` evaluates the alarms as CloudWatch documents it
(moto does not), ``world`` holds the moto account, ``function`` runs the rollback function
from its asset, ``report`` and ``plot`` show the result. ``backtest`` replays the rollback
alarms over real metric history.
"""
