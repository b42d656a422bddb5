#!/usr/bin/env bash
# Fills fuzz/corpus/<target>/ with the seed configurations (the directory is
# git-ignored; libFuzzer adds what it finds there):
#   * the compat corpus, /work/shared/compat/config/*.conf (or $COMPAT_CONFIG);
#   * the upstream lighttpd example and test configs under
#     /work/shared/compat/corpus (or $UPSTREAM_CORPUS);
#   * wick's own conf/ and examples/ *.conf files, and Debian's
#     /etc/lighttpd/lighttpd.conf when present;
# and, for the HTTP targets, the hand-made seeds in seeds/<target>/
# (requests, targets, backend responses).
# Files are named by content hash, so running it twice adds nothing.
set -euo pipefail
cd "$(dirname "$0")"

COMPAT_CONFIG=${COMPAT_CONFIG:-/work/shared/compat/config}
UPSTREAM_CORPUS=${UPSTREAM_CORPUS:-/work/shared/compat/corpus}
# Larger seeds only slow the fuzzer down; libFuzzer's -max_len cuts them anyway.
MAX_SEED_BYTES=${MAX_SEED_BYTES:-65536}

sources=()
[ -d "$COMPAT_CONFIG" ] && sources+=("$COMPAT_CONFIG")
[ -d "$UPSTREAM_CORPUS" ] && sources+=("$UPSTREAM_CORPUS")
for d in ../conf ../examples; do [ -d "$d" ] && sources+=("$d"); done

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(config_load config_deterministic http_gate http_target proxy_response)

n=0
for target in "${targets[@]}"; do
    dir=corpus/$target
    mkdir -p "$dir"
    if [ -d "seeds/$target" ]; then
        for f in seeds/"$target"/*; do
            cp "$f" "$dir/$(sha1sum "$f" | cut -c1-40)"
            n=$((n + 1))
        done
        continue
    fi
    while IFS= read -r -d '' f; do
        [ "$(wc -c <"$f")" -le "$MAX_SEED_BYTES" ] || continue
        cp "$f" "$dir/$(sha1sum "$f" | cut -c1-40)"
        n=$((n + 1))
    done < <(
        { [ ${#sources[@]} -gt 0 ] && find "${sources[@]}" -type f \
              \( -name '*.conf' -o -name '*.template' \) -print0
          [ -f /etc/lighttpd/lighttpd.conf ] && printf '%s\0' /etc/lighttpd/lighttpd.conf
        } || true
    )
done
echo "seed.sh: copied $n file(s) into corpus/{$(IFS=,; echo "${targets[*]}")}"
