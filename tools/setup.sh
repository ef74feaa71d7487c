#!/usr/bin/env bash
# Installs the Debian 12 packages libdocstore needs, only those missing.
#
#   tools/setup.sh            everything: build, tests, test servers, docs
#   tools/setup.sh --minimal  only what building and the local main job need
#                             (compiler, cmake, pkg-config, -dev libraries)
#   tools/setup.sh --list     print the package list (with --minimal: the
#                             minimal one) and exit
#
# Checks every package with one dpkg-query first, so a run with nothing to
# install is fast and offline. Otherwise (as root, or through sudo) it runs
# `apt-get update` only when the package lists are missing or do not know a
# needed package, then `apt-get install -y --no-install-recommends`; if that
# fails (stale lists), it updates the lists and tries once more. Quiet: it
# prints what it installs; apt's output goes to a log shown on failure.
set -euo pipefail

ME=setup.sh

MINIMAL=(
    build-essential cmake pkg-config
    libssl-dev libcurl4-openssl-dev libxml2-dev libcjson-dev libpq-dev libzstd-dev
    libcmocka-dev
)
FULL=(
    "${MINIMAL[@]}"
    # test servers: PostgreSQL, OpenStack Swift with s3api, memcached
    postgresql swift-proxy swift-account swift-container swift-object memcached
    # Python test tools (Debian's /usr/bin/python3 sees these)
    python3-boto3 python3-pycryptodome python3-cryptography python3-pytest
    python3-pytest-asyncio python3-psycopg2 python3-fastapi python3-httpx
    python3-zstandard
    # command-line tools and docs
    curl openssl doxygen valgrind
    # fuzzing: clang with its libFuzzer runtime
    clang libclang-rt-14-dev
    # CI gates: format (clang-format 14, pinned in tools/check-format.sh),
    # static analysis (clang-tidy 14), ABI check (abidw/abidiff)
    clang-format clang-tidy abigail-tools
)

# Node.js for the Node binding's tests: the machine image ships one (with
# npm); install Debian's only where there is none, never over another.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    FULL+=(nodejs npm)
fi

pkgs=("${FULL[@]}")
list=0
for arg in "$@"; do
    case $arg in
        --minimal) pkgs=("${MINIMAL[@]}") ;;
        --list) list=1 ;;
        -h | --help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "$ME: unknown option: $arg (see --help)" >&2; exit 2 ;;
    esac
done
if [ "$list" = 1 ]; then
    printf '%s\n' "${pkgs[@]}"
    exit 0
fi

missing_pkgs() {
    local installed
    installed=$(dpkg-query -W -f='${Package} ${db:Status-Status}\n' "${pkgs[@]}" 2>/dev/null |
        awk '$2 == "installed" {print $1}') || true
    local p
    for p in "${pkgs[@]}"; do
        grep -qxF "$p" <<<"$installed" || echo "$p"
    done
}

mapfile -t missing < <(missing_pkgs)
if [ ${#missing[@]} -eq 0 ]; then
    echo "$ME: all ${#pkgs[@]} packages already installed"
    exit 0
fi

SUDO=()
if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null; then
        SUDO=(sudo)
    else
        echo "$ME: missing: ${missing[*]}" >&2
        echo "$ME: not root and no sudo: run as root: apt-get install -y --no-install-recommends ${missing[*]}" >&2
        exit 1
    fi
fi

t0=$(date +%s)
logf=$(mktemp "${TMPDIR:-/tmp}/docstore-setup.XXXXXX.log")
# Wait for another apt/dpkg run rather than fail on its lock.
APT=("${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -q -y
    -o DPkg::Lock::Timeout=600 -o Dpkg::Use-Pty=0)

apt_update() {
    echo "$ME: apt-get update"
    if ! "${APT[@]}" update >>"$logf" 2>&1; then
        tail -n 20 "$logf" >&2
        echo "$ME: apt-get update failed (log: $logf)" >&2
        exit 1
    fi
}

# Update the lists only if they are absent or do not know a package we need.
if ! compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null ||
    ! apt-cache show --no-all-versions "${missing[@]}" >/dev/null 2>&1; then
    apt_update
    updated=1
else
    updated=0
fi

echo "$ME: installing ${#missing[@]} package(s): ${missing[*]}"
if ! "${APT[@]}" install --no-install-recommends "${missing[@]}" >>"$logf" 2>&1; then
    if [ "$updated" = 0 ]; then
        echo "$ME: install failed; refreshing the package lists and retrying"
        apt_update
        if ! "${APT[@]}" install --no-install-recommends "${missing[@]}" >>"$logf" 2>&1; then
            tail -n 30 "$logf" >&2
            echo "$ME: apt-get install failed (log: $logf)" >&2
            exit 1
        fi
    else
        tail -n 30 "$logf" >&2
        echo "$ME: apt-get install failed (log: $logf)" >&2
        exit 1
    fi
fi

mapfile -t still < <(missing_pkgs)
if [ ${#still[@]} -ne 0 ]; then
    echo "$ME: still not installed: ${still[*]} (log: $logf)" >&2
    exit 1
fi
rm -f "$logf"
echo "$ME: installed ${#missing[@]} package(s) in $(($(date +%s) - t0)) s"
