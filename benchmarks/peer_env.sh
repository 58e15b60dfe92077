#!/usr/bin/env bash
# Install the peer torch_amt 0.2 into its own virtual environment, for benchmarks/models.py only
# (never a dependency of workbench; none of its code is part of this repository).
#
#   bash benchmarks/peer_env.sh [VENV_DIR]        # default /work/peer-venv
#   python benchmarks/models.py --peer-python VENV_DIR/bin/python
#
# Recipe (issue 14): torch 2.13.0 CPU with numpy, scipy, matplotlib and torchaudio (2.11.1
# comes); torch-amt 0.2.0 without its dependencies and ignoring its Python requirement (its
# metadata asks for 3.14, its code runs on 3.11); torchaudio's compiled extensions do not load
# against torch 2.13, and torch_amt imports fine once they are moved out of the package folder.
set -euo pipefail
VENV="${1:-/work/peer-venv}"
PYTHON="${PYTHON:-python3}"
if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
fi
PIP="$VENV/bin/python -m pip"
$PIP install --quiet --upgrade pip
$PIP install --quiet torch==2.13.0 numpy scipy matplotlib torchaudio
WHEELS="$(mktemp -d)"
$PIP download --quiet --no-deps --ignore-requires-python --dest "$WHEELS" torch-amt==0.2.0
$PIP install --quiet --no-deps --ignore-requires-python "$WHEELS"/torch_amt-0.2.0-*.whl
rm -rf "$WHEELS"
# torchaudio's .so files fail to load against torch 2.13: park them outside the package.
TA_DIR="$("$VENV/bin/python" - <<'PY'
import importlib.util, os
spec = importlib.util.find_spec("torchaudio")
print(os.path.dirname(spec.origin))
PY
)"
PARK="$VENV/torchaudio-so-parked"
mkdir -p "$PARK"
find "$TA_DIR" -name '*.so' -print0 | while IFS= read -r -d '' so; do
    rel="${so#"$TA_DIR"/}"
    mkdir -p "$PARK/$(dirname "$rel")"
    mv "$so" "$PARK/$rel"
done
"$VENV/bin/python" -c "import torch_amt, torch; print('torch_amt', getattr(torch_amt, '__version__', '0.2.0'), 'on torch', torch.__version__)"
