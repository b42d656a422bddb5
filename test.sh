#!/usr/bin/env bash
# The whole test suite: unit tests, integration tests, and compat-tests
# against lighttpd 1.4.69. Installs what it needs when it is missing.
#   WICK_REQUIRE_LIGHTTPD=0 ./test.sh   lets compat-tests skip (loudly) without lighttpd
set -euo pipefail
cd "$(dirname "$0")"

need_apt=()
command -v lighttpd >/dev/null 2>&1 || [ -x /usr/sbin/lighttpd ] || need_apt+=(lighttpd)
# TLS compat-tests: lighttpd's mod_openssl, and the openssl and curl clients
[ -e /usr/lib/lighttpd/mod_openssl.so ] || need_apt+=(lighttpd-mod-openssl)
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)
command -v curl >/dev/null 2>&1 || need_apt+=(curl)
# the backends and probes of shared/compat/tools are Python 3 (stdlib only)
command -v python3 >/dev/null 2>&1 || need_apt+=(python3)
if [ ${#need_apt[@]} -gt 0 ]; then
    echo "test.sh: installing ${need_apt[*]} (the compat-tests oracle and its clients)" >&2
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo -n"
    $sudo apt-get update -qq || true
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need_apt[@]}" \
        || echo "test.sh: could not install ${need_apt[*]}" >&2
fi
export PATH="$PATH:/usr/sbin"
export WICK_REQUIRE_LIGHTTPD="${WICK_REQUIRE_LIGHTTPD:-1}"

# the shipped binary (whole-program optimised), which compat-tests run
cargo build --release --bin wick
# everything else, and the tests, in the release code without that link
cargo build --profile ci --workspace --all-targets
cargo test --profile ci --workspace
