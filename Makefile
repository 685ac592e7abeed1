# Herald: the two commands of the README are `make demo` and `make test`; both do all set-up.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup upgrade-deps lint stack prometheus chromium helm demo test test-unit test-faults bench bench-quick bench-persist bench-fanout bench-api bench-push bench-compression bench-fcm-send bench-validation bench-scale-out bench-escalation bench-live bench-outbox bench-broker-failure bench-retention down

# Exactly the versions CI tested: requirements.lock pins every package with its hashes; Herald itself is
# installed on top without resolving anything again. `make upgrade-deps` refreshes the lock.
$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --require-hashes -r requirements.lock
	$(BIN)/pip install -q --no-deps -e .
	touch $(STAMP)

setup: $(STAMP)

upgrade-deps: setup
	$(BIN)/pip install -q pip-tools
	$(BIN)/pip-compile -q --upgrade --generate-hashes --allow-unsafe --no-emit-find-links --strip-extras \
		--extra test --extra bench --extra dev -o requirements.lock pyproject.toml

# ruff (lint and format check) and mypy (configured in pyproject.toml: strict on streams/ and the rules);
# CI runs it before the tests, the pre-commit hooks (.pre-commit-config.yaml) run the same commands.
lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

stack: setup
	$(BIN)/herald dev up

demo: stack
	$(BIN)/herald demo

prometheus:
	sh deploy/prometheus/install.sh

# The page test (tests/integration/api/test_ui_page.py) drives a headless Chromium from Debian's packages.
chromium:
	sh tests/install-chromium.sh

# The Helm chart's test (tests/integration/deploy/test_helm_chart.py) renders it with Helm built from its Go
# module (~5-6 min the first time on 2 cores, then cached in ~/.cache/herald/helm-VERSION).
helm:
	sh deploy/helm/install-helm.sh >/dev/null

test: stack prometheus chromium helm
	$(BIN)/python -m pytest -q --durations=10

test-unit: setup prometheus
	$(BIN)/python -m pytest -q tests/unit

# tests/faults (also part of `make test`): a broker, Postgres cluster and FCM emulator of the suite's own,
# on other ports, killed under load; each fault's counts and recovery times are printed ([fault] lines).
# HERALD_FAULT_REPS=3 injects each fault three times. About 12 minutes at one repetition, plus ~6.5 for
# test_broker_failover.py (a three-node cluster of its own: leader and controller killed, rolling restart).
test-faults: stack
	$(BIN)/python -m pytest -q -s --durations=0 tests/faults

bench-persist: stack
	$(BIN)/python bench/persist.py

bench-api: stack
	$(BIN)/python bench/api.py

bench-fanout: stack
	$(BIN)/python bench/fanout.py

bench-push: stack
	$(BIN)/python bench/push.py

bench-compression: stack
	$(BIN)/python bench/compression.py

bench-validation: setup
	$(BIN)/python bench/validation.py

bench-fcm-send: setup
	$(BIN)/python bench/fcm_send.py

bench-scale-out: stack
	$(BIN)/python bench/scale_out.py

# The escalator with one process, then two: how late steps fire, none after an acknowledgement, the catch-up rate.
bench-escalation: stack
	$(BIN)/python bench/escalation.py --replicas 1 2

# The live streams: one API process with 2,000 SSE clients, memory per client and commit -> client latency
# at 200 notifications/s, nothing lost or repeated.
bench-live: stack
	$(BIN)/python bench/live.py

# The transactional outbox: commit -> topic latency at 1,000 transactions/s (NOTIFY, then polling only) and the
# relay's events/s through a 200,000-row backlog at one and two relays, beside the SDK's direct publish rate.
bench-outbox: stack
	$(BIN)/python bench/outbox.py --relays 1 2

# A three-node cluster of the fault suite's own under load: the busiest leader and the active controller
# SIGKILLed and back after a minute, then a rolling restart; lost, duplicates, recovery times. ~8 minutes.
bench-broker-failure: stack
	$(BIN)/python bench/broker_failure.py --down 60

# Retention of one 2-million-event month: dropped whole, one organization kept, one purged, against
# keeping one by deleting the rest; seconds, WAL and vacuum. ~3 minutes (twice: archive on and off).
bench-retention: stack
	$(BIN)/python bench/retention.py
	$(BIN)/python bench/retention.py --no-archive

# Herald vs Quix Streams vs the raw ceiling, fan-out EOS on/off, end-to-end latency, crash under load;
# 3 repetitions, ~30 min; writes bench/results/latest.{json,md}. bench-quick: small sizes, one repetition.
bench: stack
	$(BIN)/python bench/run_all.py

bench-quick: stack
	$(BIN)/python bench/run_all.py --quick

down:
	$(BIN)/herald dev down
