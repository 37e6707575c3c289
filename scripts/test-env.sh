#!/usr/bin/env bash
# The Python side of the end-to-end tests: moto_server (PyPI `moto[server]` 5.x, a fake IAM/STS)
# and the `aws` CLI v1 (PyPI `awscli`), in a venv of their own. Idempotent and quiet; fast
# (no pip run) when the venv is already set up.
#
#   eval "$(scripts/test-env.sh)"      # sets ART_VENV and puts the venv's bin/ first on PATH
#
# Knobs: ART_VENV (default $PWD/target/test-venv), PYTHON (default python3),
# MOTO_SPEC / AWSCLI_SPEC (pip requirement strings), PIP_FIND_LINKS (local wheels, honoured by pip).
# Progress goes to stderr; stdout carries only the `export` lines.
set -euo pipefail

venv="${ART_VENV:-$PWD/target/test-venv}"
python="${PYTHON:-python3}"
moto_spec="${MOTO_SPEC:-moto[server]>=5,<6}"
awscli_spec="${AWSCLI_SPEC:-awscli>=1.30,<2}"
# The marker names what was installed: a change of the specs reinstalls.
want="$moto_spec $awscli_spec"
marker="$venv/.art-test-env"

if [[ ! -x "$venv/bin/moto_server" || ! -x "$venv/bin/aws" || ! -f "$marker" ||
      "$(cat "$marker")" != "$want" ]]; then
  mkdir -p "$(dirname "$venv")"
  # One setup at a time (parallel test processes may all find the venv missing).
  if command -v flock >/dev/null; then
    exec 9>"$venv.lock"
    flock 9
  fi
fi
if [[ ! -x "$venv/bin/moto_server" || ! -x "$venv/bin/aws" || ! -f "$marker" ||
      "$(cat "$marker")" != "$want" ]]; then
  echo "test-env: setting up $venv ($want)" >&2
  if [[ ! -x "$venv/bin/python" ]]; then
    "$python" -m venv --clear "$venv" >&2 || {
      echo "test-env: '$python -m venv' failed: on Debian, apt-get install python3-venv" >&2
      exit 1
    }
  fi
  "$venv/bin/python" -m pip install --quiet --upgrade pip >&2 || true
  "$venv/bin/python" -m pip install --quiet "$moto_spec" "$awscli_spec" >&2
  "$venv/bin/moto_server" --help >/dev/null
  "$venv/bin/aws" --version >&2
  printf '%s' "$want" >"$marker"
fi

venv="$(cd "$venv" && pwd)"
printf 'export ART_VENV=%q\n' "$venv"
case ":$PATH:" in
  *":$venv/bin:"*) printf 'export PATH=%q\n' "$PATH" ;;
  *) printf 'export PATH=%q\n' "$venv/bin:$PATH" ;;
esac
