# Sourced by scripts/test: `ensure_browser` makes sure Debian's headless Chromium and its
# WebDriver are installed (the console's browser tests drive them) and exports their paths as
# PRISM_TEST_CHROMIUM and PRISM_TEST_CHROMEDRIVER. Paths already exported are used as they are.
ensure_browser() {
  if [ -z "${PRISM_TEST_CHROMIUM:-}" ] || [ -z "${PRISM_TEST_CHROMEDRIVER:-}" ]; then
    if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
      echo "installing chromium and chromium-driver (the console's browser tests)" >&2
      as_root apt-get update -qq || true
      as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
    fi
    PRISM_TEST_CHROMIUM="${PRISM_TEST_CHROMIUM:-$(command -v chromium)}"
    PRISM_TEST_CHROMEDRIVER="${PRISM_TEST_CHROMEDRIVER:-$(command -v chromedriver)}"
  fi
  export PRISM_TEST_CHROMIUM PRISM_TEST_CHROMEDRIVER
}
