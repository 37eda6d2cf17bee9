#!/usr/bin/env bash
# The DigitalOcean contract checker (tests/dosim/contract.py) on handcrafted recordings that
# must pass and ones that must fail, and its OpenAPI 3.0 conversion rules. Debian's python3
# with python3-jsonschema 4.10, as the checker is meant to run.
set -euo pipefail
exec /usr/bin/python3 "$(dirname "$0")/contract_selftest.py" "$@"
