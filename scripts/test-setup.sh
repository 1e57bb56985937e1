#!/usr/bin/env bash
# scripts/test-setup.sh - make this machine ready for the project's tests.
#
# Idempotent: on a machine where everything is already in place it prints
# nothing and exits 0 within a second or so. Each step it actually has to take
# prints one short line. Run it directly or through `make setup` / `make test`.
#
# What it ensures:
#   1. PostgreSQL (the newest version under /etc/postgresql, 15 on these
#      machines) is running and accepting connections on 127.0.0.1:5432
#      (trust auth for local connections).
#   2. The pgvector extension is available. Debian 12 does not package it for
#      PostgreSQL 15, so if `CREATE EXTENSION vector` fails the script adds a
#      deb-src-only entry for Debian 13 (trixie), fetches the pgvector source
#      package and builds/installs it against postgresql-server-dev-<version>
#      (about a minute on a 2-core machine, plus apt time).
#   3. The test database `hindsight_test` exists, with the vector extension
#      created in it.
#   4. Chromium is installed (Debian's `chromium` package), for the review
#      console's browser test; skipped when HINDSIGHT_TEST_CHROMIUM names one.
#
# It exports nothing. The Go tests read HINDSIGHT_TEST_POSTGRES and, when it is
# unset, use the database this script prepares:
#   postgres://postgres@127.0.0.1:5432/hindsight_test?sslmode=disable
# (the Makefile passes exactly that value unless the variable is already set).
#
# Needs root (or sudo) only when something has to be installed or started.
set -euo pipefail

PGHOST_ADDR=127.0.0.1
PGPORT_NUM=5432
TEST_DB=hindsight_test
PG_WAIT_SECONDS=${PG_WAIT_SECONDS:-60}
TRIXIE_SOURCES_BASENAME=hindsight-trixie-src

log() { printf 'test-setup: %s\n' "$*"; }
die() { printf 'test-setup: ERROR: %s\n' "$*" >&2; exit 1; }

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO=(sudo -n); fi
fi
as_root() { "${SUDO[@]}" "$@"; }

# --- PostgreSQL version -----------------------------------------------------
PG_VERSION=15
if [ -d /etc/postgresql ]; then
    detected=$(find /etc/postgresql -mindepth 1 -maxdepth 1 -type d -printf '%f\n' 2>/dev/null \
        | grep -E '^[0-9]+$' | sort -n | tail -n 1 || true)
    if [ -n "$detected" ]; then PG_VERSION=$detected; fi
fi
PG_BIN=/usr/lib/postgresql/$PG_VERSION/bin
PG_CONFIG=$PG_BIN/pg_config

export PGCONNECT_TIMEOUT=5
psql_q() { # psql_q DB SQL... : run quietly, print tuples only
    local db=$1; shift
    psql -X -q -v ON_ERROR_STOP=1 -h "$PGHOST_ADDR" -p "$PGPORT_NUM" -U postgres -d "$db" -Atc "$*"
}

# --- 1. PostgreSQL running ----------------------------------------------------
pg_ready() { pg_isready -q -h "$PGHOST_ADDR" -p "$PGPORT_NUM" >/dev/null 2>&1; }

if ! pg_ready; then
    command -v pg_ctlcluster >/dev/null 2>&1 \
        || die "PostgreSQL is not accepting connections on $PGHOST_ADDR:$PGPORT_NUM and pg_ctlcluster is not installed"
    [ -d "/etc/postgresql/$PG_VERSION/main" ] \
        || die "PostgreSQL is not running and there is no cluster /etc/postgresql/$PG_VERSION/main to start"
    log "starting PostgreSQL $PG_VERSION (cluster main)"
    # Exit code 2 means "already running" (e.g. still starting up): just wait.
    if ! out=$(as_root pg_ctlcluster --skip-systemctl-redirect "$PG_VERSION" main start 2>&1); then
        case "$out" in
            *"already running"*) ;;
            *) die "pg_ctlcluster $PG_VERSION main start failed: $out" ;;
        esac
    fi
    waited=0
    until pg_ready; do
        if [ "$waited" -ge "$PG_WAIT_SECONDS" ]; then
            die "PostgreSQL $PG_VERSION did not accept connections on $PGHOST_ADDR:$PGPORT_NUM within ${PG_WAIT_SECONDS}s (see /var/log/postgresql/postgresql-$PG_VERSION-main.log)"
        fi
        sleep 1
        waited=$((waited + 1))
    done
fi

# --- 2. pgvector available ----------------------------------------------------
# The check creates the extension in the stock `test` database (as the design
# note prescribes) and also uses the type, which loads vector.so.
vector_works() {
    psql_q test "CREATE EXTENSION IF NOT EXISTS vector; SELECT '[1,2,3]'::vector <-> '[1,2,4]'::vector" >/dev/null 2>&1
}

# Prints "deb822" or "oneline": how this machine writes its Debian apt sources.
apt_source_style() {
    if compgen -G '/etc/apt/sources.list.d/*.sources' >/dev/null \
        && grep -qsE '^[[:space:]]*URIs:' /etc/apt/sources.list.d/*.sources; then
        echo deb822
    else
        echo oneline
    fi
}

# Prints the Debian mirror URL the machine's own sources use for the main
# archive (not -security), falling back to deb.debian.org.
apt_debian_mirror() {
    local url=""
    if compgen -G '/etc/apt/sources.list.d/*.sources' >/dev/null; then
        url=$(awk 'BEGIN{RS=""}
            /(^|\n)Types:[^\n]*deb/ && /(^|\n)Suites:[^\n]*bookworm/ && !/(^|\n)Enabled:[[:space:]]*no/ {
                n = split($0, lines, "\n")
                for (i = 1; i <= n; i++) if (lines[i] ~ /^URIs:/) {
                    sub(/^URIs:[[:space:]]*/, "", lines[i]); split(lines[i], u, /[[:space:]]+/)
                    if (u[1] !~ /security/) { print u[1]; exit }
                }
            }' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
    fi
    if [ -z "$url" ]; then
        url=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
            | awk '$1 ~ /^deb(-src)?$/ {
                      i = 2; if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
                      if ($i !~ /security/ && $(i+1) ~ /^bookworm/) { print $i; exit }
                  }' || true)
    fi
    echo "${url:-http://deb.debian.org/debian}"
}

# True if some enabled apt source already provides trixie deb-src.
have_trixie_deb_src() {
    if compgen -G '/etc/apt/sources.list.d/*.sources' >/dev/null \
        && awk 'BEGIN{RS=""; found=0}
            /(^|\n)Types:[^\n]*deb-src/ && /(^|\n)Suites:[^\n]*(^|[[:space:]])trixie([[:space:]]|$)/ && !/(^|\n)Enabled:[[:space:]]*no/ {found=1}
            END{exit !found}' /etc/apt/sources.list.d/*.sources; then
        return 0
    fi
    cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
        | grep -qE '^[[:space:]]*deb-src[[:space:]]+(\[[^]]*\][[:space:]]+)?[^[:space:]]+[[:space:]]+trixie[[:space:]]'
}

add_trixie_deb_src() {
    local mirror style keyring=/usr/share/keyrings/debian-archive-keyring.gpg
    mirror=$(apt_debian_mirror)
    style=$(apt_source_style)
    # deb-src only: apt fetches no trixie binary package index, so no trixie
    # binary package can ever be selected for installation from this entry.
    if [ "$style" = deb822 ]; then
        local f=/etc/apt/sources.list.d/$TRIXIE_SOURCES_BASENAME.sources
        log "adding apt source $f (deb-src trixie only, $mirror)"
        printf '%s\n' \
            "# Added by hindsight scripts/test-setup.sh: Debian 13 SOURCE packages only" \
            "# (to build pgvector for PostgreSQL $PG_VERSION); no binary packages from trixie." \
            "Types: deb-src" \
            "URIs: $mirror" \
            "Suites: trixie" \
            "Components: main" \
            "Signed-By: $keyring" | as_root tee "$f" >/dev/null
    else
        local f=/etc/apt/sources.list.d/$TRIXIE_SOURCES_BASENAME.list
        log "adding apt source $f (deb-src trixie only, $mirror)"
        printf '%s\n' \
            "# Added by hindsight scripts/test-setup.sh: Debian 13 SOURCE packages only" \
            "deb-src [signed-by=$keyring] $mirror trixie main" | as_root tee "$f" >/dev/null
    fi
}

pkg_installed() {
    [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" = "install ok installed" ]
}

WORK=""
cleanup() { if [ -n "$WORK" ]; then rm -rf "$WORK"; fi; }
trap cleanup EXIT

run_logged() { # run_logged DESCRIPTION CMD... : quiet unless it fails
    local what=$1; shift
    local logf
    logf=$(mktemp)
    if ! "$@" >"$logf" 2>&1; then
        tail -n 40 "$logf" >&2
        rm -f "$logf"
        die "$what failed (last lines above)"
    fi
    rm -f "$logf"
}

install_pgvector() {
    export DEBIAN_FRONTEND=noninteractive
    command -v apt-get >/dev/null 2>&1 || die "pgvector is missing and apt-get is not available to build it"
    [ "$(id -u)" -eq 0 ] || [ "${#SUDO[@]}" -gt 0 ] || die "pgvector is missing; building it needs root (or sudo)"

    have_trixie_deb_src || add_trixie_deb_src

    log "apt-get update"
    run_logged "apt-get update" as_root apt-get update -qq

    local pkgs=() p
    for p in "postgresql-server-dev-$PG_VERSION" build-essential dpkg-dev; do
        pkg_installed "$p" || pkgs+=("$p")
    done
    if [ "${#pkgs[@]}" -gt 0 ]; then
        log "installing ${pkgs[*]}"
        run_logged "apt-get install ${pkgs[*]}" \
            as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${pkgs[@]}"
    fi
    [ -x "$PG_CONFIG" ] || die "$PG_CONFIG not found after installing postgresql-server-dev-$PG_VERSION"

    WORK=$(mktemp -d /tmp/hindsight-pgvector.XXXXXX)
    chmod 755 "$WORK" # lets apt's _apt user write the download (no sandbox warning)
    log "fetching pgvector source (trixie) into $WORK"
    run_logged "apt-get source pgvector/trixie" \
        bash -c 'cd "$1" && apt-get source -qq pgvector/trixie' _ "$WORK"
    local src
    src=$(find "$WORK" -mindepth 1 -maxdepth 1 -type d -name 'pgvector-*' | head -n 1)
    [ -n "$src" ] || die "apt-get source pgvector/trixie produced no pgvector-* directory in $WORK"

    log "building and installing $(basename "$src") for PostgreSQL $PG_VERSION"
    run_logged "make (pgvector)" \
        make -C "$src" -j"$(nproc 2>/dev/null || echo 2)" PG_CONFIG="$PG_CONFIG" OPTFLAGS=""
    run_logged "make install (pgvector)" \
        as_root make -C "$src" PG_CONFIG="$PG_CONFIG" OPTFLAGS="" install
}

if ! vector_works; then
    install_pgvector
    if ! vector_works; then
        err=$(psql_q test "CREATE EXTENSION IF NOT EXISTS vector; SELECT '[1,2,3]'::vector" 2>&1 || true)
        die "pgvector was built and installed but CREATE EXTENSION vector still fails: $err"
    fi
    log "pgvector is available"
fi

# --- 3. Test database ---------------------------------------------------------
if [ -z "$(psql_q postgres "SELECT 1 FROM pg_database WHERE datname = '$TEST_DB'")" ]; then
    log "creating database $TEST_DB"
    psql_q postgres "CREATE DATABASE $TEST_DB" >/dev/null \
        || die "could not create database $TEST_DB"
fi
if [ -z "$(psql_q "$TEST_DB" "SELECT 1 FROM pg_extension WHERE extname = 'vector'")" ]; then
    log "creating extension vector in $TEST_DB"
    psql_q "$TEST_DB" "CREATE EXTENSION IF NOT EXISTS vector" >/dev/null \
        || die "could not create extension vector in $TEST_DB"
fi

# --- 4. Chromium, for the review console's browser test ------------------------
# TestConsoleInBrowser drives /console in headless Chromium; HINDSIGHT_TEST_CHROMIUM may name
# another browser binary instead.
if [ -z "${HINDSIGHT_TEST_CHROMIUM:-}" ] && ! command -v chromium >/dev/null 2>&1; then
    command -v apt-get >/dev/null 2>&1 || die "Chromium is missing and apt-get is not available to install it"
    log "installing Chromium (the review console's browser test)"
    if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null 2>&1; then
        run_logged "apt-get update" as_root apt-get update -qq
        run_logged "apt-get install chromium" \
            as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium
    fi
fi
