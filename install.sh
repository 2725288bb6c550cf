#!/usr/bin/env bash
# Installs or updates NexPay on one Docker host, behind Traefik.
#
#   sudo ./install.sh pay.example.com
#
# 1. checks Docker and Docker Compose v2;
# 2. clones NexPay into /opt/nexpay, or updates it there (git pull --ff-only);
# 3. writes /opt/nexpay/.env: every secret generated at random the first time and kept
#    as is on later runs (never rotated silently), mode 0600;
# 4. writes the admin login and the live API keys to /root/nexpay-credentials.txt (0600);
# 5. builds and starts docker-compose-prod.yml and waits until every container is healthy.
#
# It never prints a secret; it tells where they are.
#
# Optional environment:
#   NEXPAY_REPO          git URL to clone (default: the origin of the checkout this script
#                        is in, or that checkout itself)
#   NEXPAY_DIR           install directory (default /opt/nexpay)
#   NEXPAY_CREDENTIALS   credentials file (default /root/nexpay-credentials.txt)
#   TRAEFIK_ENABLE_SSL   true (default): HTTPS with Let's Encrypt; false: plain HTTP
#   ACME_EMAIL           Let's Encrypt contact (default: ADMIN_EMAIL)
#   ADMIN_EMAIL          the first admin's login (default admin@<domain>)
#   NEXPAY_WAIT_SECONDS  how long to wait for the containers to be healthy (default 900)
set -euo pipefail

NEXPAY_DIR=${NEXPAY_DIR:-/opt/nexpay}
NEXPAY_CREDENTIALS=${NEXPAY_CREDENTIALS:-/root/nexpay-credentials.txt}
NEXPAY_WAIT_SECONDS=${NEXPAY_WAIT_SECONDS:-900}
COMPOSE_FILE_NAME=docker-compose-prod.yml
# Compose project name, as set by `name:` in docker-compose-prod.yml.
COMPOSE_PROJECT=nexpay

# Secrets in .env: generated once, then kept.
SECRET_KEYS=(DB_PASSWORD RABBITMQ_DEFAULT_PASS REDIS_PASSWORD ENCRYPTION_KEY WEBHOOK_SECRETS_KEY
    JWT_SECRET ADMIN_PASSWORD X_WRITE_KEY X_READ_KEY)
# Every key this script writes to .env (others found in an existing .env are kept).
MANAGED_KEYS=(NEXPAY_ENV APP_DOMAIN PUBLIC_URL TRAEFIK_ENABLE_SSL ACME_EMAIL ADMIN_EMAIL
    DB_USER DB_NAME RABBITMQ_DEFAULT_USER RABBITMQ_DEFAULT_VHOST
    GATEWAY_REPLICAS PAYMENTS_REPLICAS PROVIDER_ADAPTER_REPLICAS WEBHOOK_DISPATCHER_REPLICAS
    DASHBOARD_REPLICAS LOG_FORMAT "${SECRET_KEYS[@]}")

declare -A VALUES=()
GENERATED=()
KEPT=()

die() {
    echo "install.sh: $*" >&2
    exit 1
}

info() {
    echo "==> $*"
}

usage() {
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'
}

# --- random values -----------------------------------------------------------------

# N characters drawn uniformly from [0-9A-Za-z] (tr keeps 62 of the 256 byte values).
random_base62() {
    local n=$1 out=""
    while ((${#out} < n)); do
        out+=$(head -c 512 /dev/urandom | LC_ALL=C tr -dc 'A-Za-z0-9')
    done
    printf '%s' "${out:0:n}"
}

# 32 random bytes in base64: the format of ENCRYPTION_KEY (AES-256 key).
random_key_base64() {
    head -c 32 /dev/urandom | base64 | tr -d '\n'
}

# An API key in NexPay's format: nxp_<pk|sk>_live_ and 43 base62 characters.
random_api_key() {
    printf 'nxp_%s_live_%s' "$1" "$(random_base62 43)"
}

generate_secret() {
    case "$1" in
        DB_PASSWORD | RABBITMQ_DEFAULT_PASS | REDIS_PASSWORD) random_base62 32 ;;
        ENCRYPTION_KEY | WEBHOOK_SECRETS_KEY) random_key_base64 ;;
        JWT_SECRET) random_base62 64 ;;
        ADMIN_PASSWORD) random_base62 24 ;;
        X_WRITE_KEY) random_api_key sk ;;
        X_READ_KEY) random_api_key pk ;;
        *) die "no generator for $1" ;;
    esac
}

# --- .env ---------------------------------------------------------------------------

# The value of KEY in an env file (last assignment wins, surrounding quotes removed).
env_value() {
    local file=$1 key=$2 line value=""
    [[ -f $file ]] || return 0
    while IFS= read -r line || [[ -n $line ]]; do
        if [[ $line == "$key="* ]]; then
            value=${line#"$key="}
        fi
    done <"$file"
    if [[ $value == \"*\" || $value == \'*\' ]]; then
        value=${value:1:${#value}-2}
    fi
    printf '%s' "$value"
}

# First non-empty of: the environment (only for the keys documented above as
# optional environment), the existing .env, the default.
setting() {
    local key=$1 default=$2 env_file=$3 value=""
    case "$key" in
        TRAEFIK_ENABLE_SSL | ACME_EMAIL | ADMIN_EMAIL) value=${!key:-} ;;
    esac
    [[ -n $value ]] || value=$(env_value "$env_file" "$key")
    [[ -n $value ]] || value=$default
    VALUES[$key]=$value
}

is_managed() {
    local key=$1 k
    for k in "${MANAGED_KEYS[@]}"; do
        [[ $k == "$key" ]] && return 0
    done
    return 1
}

# Decides every value of .env for DOMAIN: settings from the environment or the existing
# file, secrets kept from the existing file or generated.
resolve_values() {
    local domain=$1 env_file=$2 key current ssl
    VALUES=()
    GENERATED=()
    KEPT=()
    VALUES[NEXPAY_ENV]=production
    VALUES[APP_DOMAIN]=$domain
    setting TRAEFIK_ENABLE_SSL true "$env_file"
    ssl=$(printf '%s' "${VALUES[TRAEFIK_ENABLE_SSL]}" | tr '[:upper:]' '[:lower:]')
    case "$ssl" in
        true | 1 | yes | on) VALUES[TRAEFIK_ENABLE_SSL]=true VALUES[PUBLIC_URL]="https://$domain" ;;
        false | 0 | no | off) VALUES[TRAEFIK_ENABLE_SSL]=false VALUES[PUBLIC_URL]="http://$domain" ;;
        *) die "TRAEFIK_ENABLE_SSL must be true or false, not '${VALUES[TRAEFIK_ENABLE_SSL]}'" ;;
    esac
    setting ADMIN_EMAIL "admin@$domain" "$env_file"
    setting ACME_EMAIL "${VALUES[ADMIN_EMAIL]}" "$env_file"
    setting DB_USER nexpay "$env_file"
    setting DB_NAME nexpay "$env_file"
    setting RABBITMQ_DEFAULT_USER nexpay "$env_file"
    setting RABBITMQ_DEFAULT_VHOST nexpay "$env_file"
    for key in GATEWAY_REPLICAS PAYMENTS_REPLICAS PROVIDER_ADAPTER_REPLICAS \
        WEBHOOK_DISPATCHER_REPLICAS DASHBOARD_REPLICAS; do
        setting "$key" 1 "$env_file"
        [[ ${VALUES[$key]} =~ ^[0-9]+$ ]] || die "$key must be a number, not '${VALUES[$key]}'"
    done
    setting LOG_FORMAT json "$env_file"
    for key in "${SECRET_KEYS[@]}"; do
        current=$(env_value "$env_file" "$key")
        if [[ -n $current ]]; then
            VALUES[$key]=$current
            KEPT+=("$key")
        else
            VALUES[$key]=$(generate_secret "$key")
            GENERATED+=("$key")
        fi
    done
    current=${VALUES[ENCRYPTION_KEY]}
    if [[ $(printf '%s' "$current" | base64 -d 2>/dev/null | wc -c) -ne 32 ]]; then
        echo "install.sh: warning: ENCRYPTION_KEY in $env_file is not 32 bytes in base64;" \
            "NexPay will refuse to start. It is kept: replacing it would make sealed provider" \
            "secrets unreadable." >&2
    fi
}

# Writes ENV_FILE from VALUES (mode 0600, replaced atomically), keeping the lines of
# keys this script does not manage.
write_env_file() {
    local env_file=$1 tmp key line
    tmp=$(umask 077 && mktemp "$env_file.XXXXXX")
    {
        echo "# NexPay production settings, written by install.sh on $(date -u +%Y-%m-%dT%H:%M:%SZ)."
        echo "# Secrets were generated at random on the first run and are kept by later runs."
        echo "# Back this file up somewhere safe: without ENCRYPTION_KEY the provider secrets"
        echo "# stored in the database cannot be read. Variables: see .env.example."
        for key in "${MANAGED_KEYS[@]}"; do
            printf '%s=%s\n' "$key" "${VALUES[$key]}"
        done
        if [[ -f $env_file ]]; then
            local header=0
            while IFS= read -r line || [[ -n $line ]]; do
                [[ $line =~ ^([A-Za-z_][A-Za-z0-9_]*)= ]] || continue
                is_managed "${BASH_REMATCH[1]}" && continue
                if ((header == 0)); then
                    echo "# Kept from the previous .env"
                    header=1
                fi
                printf '%s\n' "$line"
            done <"$env_file"
        fi
    } >"$tmp"
    chmod 600 "$tmp"
    mv -f "$tmp" "$env_file"
}

write_credentials() {
    local file=$1 env_file=$2 dir
    dir=$(dirname "$file")
    [[ -d $dir ]] || (umask 077 && mkdir -p "$dir")
    (
        umask 077
        rm -f "$file"
        cat >"$file" <<EOF
NexPay credentials, written by install.sh on $(date -u +%Y-%m-%dT%H:%M:%SZ).
Readable by root only. Do not share this file.

Dashboard:        ${VALUES[PUBLIC_URL]}/
Admin login:      ${VALUES[ADMIN_EMAIL]}
Admin password:   ${VALUES[ADMIN_PASSWORD]}
                  (first login only: NexPay asks for a new password at once)

Live API keys of the default project (merchant API: ${VALUES[PUBLIC_URL]}/api/v1/...)
Write key (secret, server side only):  ${VALUES[X_WRITE_KEY]}
Read key (publishable):                ${VALUES[X_READ_KEY]}

Every other secret (database, RabbitMQ, Redis, JWT_SECRET, ENCRYPTION_KEY) is in
$env_file. Back that file up: without ENCRYPTION_KEY the provider secrets stored in
the database cannot be read.
EOF
    )
    chmod 600 "$file"
}

# Resolves the values for DOMAIN and writes .env and the credentials file.
write_config() {
    local domain=$1 env_file="$NEXPAY_DIR/.env"
    resolve_values "$domain" "$env_file"
    write_env_file "$env_file"
    write_credentials "$NEXPAY_CREDENTIALS" "$env_file"
}

# --- checks and source ----------------------------------------------------------------

check_domain() {
    local domain=$1 label='[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?'
    [[ $domain =~ ^$label(\.$label)*$ ]] ||
        die "'$domain' is not a host name (give the domain only, without http:// or a port)"
}

check_prerequisites() {
    if [[ $(id -u) -ne 0 ]]; then
        die "run me as root (sudo $0 <domain>): I write $NEXPAY_DIR and $NEXPAY_CREDENTIALS and drive Docker"
    fi
    command -v git >/dev/null 2>&1 ||
        die "git is not installed (Debian/Ubuntu: apt-get install -y git)"
    command -v docker >/dev/null 2>&1 ||
        die "Docker is not installed. Install Docker Engine and its Compose plugin: https://docs.docker.com/engine/install/ (Debian/Ubuntu: packages docker-ce and docker-compose-plugin from Docker's apt repository)"
    docker compose version >/dev/null 2>&1 ||
        die "Docker Compose v2 ('docker compose') is not installed. Install the plugin: apt-get install -y docker-compose-plugin (from Docker's apt repository), see https://docs.docker.com/compose/install/linux/"
    docker info >/dev/null 2>&1 ||
        die "the Docker daemon does not answer; start it (systemctl start docker) and run me again"
}

default_repo() {
    local here url
    here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
    if [[ -f $here/$COMPOSE_FILE_NAME ]] && git -C "$here" rev-parse --git-dir >/dev/null 2>&1; then
        url=$(git -C "$here" remote get-url origin 2>/dev/null || true)
        printf '%s' "${url:-$here}"
    fi
}

fetch_source() {
    local repo
    if [[ -d $NEXPAY_DIR/.git ]]; then
        if git -C "$NEXPAY_DIR" rev-parse --abbrev-ref '@{upstream}' >/dev/null 2>&1; then
            info "Updating $NEXPAY_DIR (git pull --ff-only)"
            git -C "$NEXPAY_DIR" pull --ff-only
        else
            info "$NEXPAY_DIR has no upstream branch: using it as it is"
        fi
    elif [[ -e $NEXPAY_DIR && -n $(ls -A "$NEXPAY_DIR") ]]; then
        die "$NEXPAY_DIR exists and is not a git checkout of NexPay; move it away or set NEXPAY_DIR"
    else
        repo=${NEXPAY_REPO:-$(default_repo)}
        [[ -n $repo ]] || die "set NEXPAY_REPO to the git URL of NexPay (e.g. NEXPAY_REPO=https://.../nexpay.git $0 <domain>)"
        info "Cloning $repo into $NEXPAY_DIR"
        git clone "$repo" "$NEXPAY_DIR"
    fi
    [[ -f $NEXPAY_DIR/$COMPOSE_FILE_NAME ]] || die "$NEXPAY_DIR/$COMPOSE_FILE_NAME is missing"
}

# Data volumes whose passwords and keys live in .env: a new .env would not open them.
refuse_orphan_volumes() {
    local volume
    [[ -f $NEXPAY_DIR/.env ]] && return 0
    for volume in "${COMPOSE_PROJECT}_postgres-data" "${COMPOSE_PROJECT}_rabbitmq-data"; do
        if docker volume inspect "$volume" >/dev/null 2>&1; then
            die "$NEXPAY_DIR/.env is missing but the volume $volume exists: restore .env from your backup (new secrets would not open the existing data), or remove the volumes to start afresh"
        fi
    done
}

# --- run ------------------------------------------------------------------------------

compose() {
    docker compose --project-directory "$NEXPAY_DIR" -f "$NEXPAY_DIR/$COMPOSE_FILE_NAME" \
        --env-file "$NEXPAY_DIR/.env" "$@"
}

# Waits until every container of the project is healthy (or running, without a health
# check).
wait_healthy() {
    local deadline=$((SECONDS + NEXPAY_WAIT_SECONDS)) id state pending ids
    info "Waiting for every container to be healthy (up to ${NEXPAY_WAIT_SECONDS}s)"
    while :; do
        pending=()
        mapfile -t ids < <(compose ps -a -q)
        ((${#ids[@]} > 0)) || pending+=("(no containers yet)")
        for id in "${ids[@]}"; do
            state=$(docker inspect -f '{{.Name}} {{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}' "$id")
            case "${state##* }" in
                healthy | running) ;;
                *) pending+=("${state#/}") ;;
            esac
        done
        ((${#pending[@]} == 0)) && return 0
        if ((SECONDS >= deadline)); then
            compose ps -a >&2 || true
            die "not healthy after ${NEXPAY_WAIT_SECONDS}s: ${pending[*]}. See: docker compose -f $NEXPAY_DIR/$COMPOSE_FILE_NAME logs <service>"
        fi
        sleep 5
    done
}

main() {
    if [[ $# -ne 1 || $1 == -h || $1 == --help ]]; then
        usage
        [[ $# -eq 1 ]] && exit 0
        exit 2
    fi
    local domain
    domain=$(printf '%s' "$1" | tr '[:upper:]' '[:lower:]')
    check_domain "$domain"
    check_prerequisites
    umask 022
    fetch_source
    refuse_orphan_volumes
    write_config "$domain"
    if ((${#GENERATED[@]} > 0)); then
        info "Generated: ${GENERATED[*]}"
    fi
    if ((${#KEPT[@]} > 0)); then
        info "Kept from the existing .env: ${KEPT[*]}"
    fi
    info "Building and starting the stack (the first build compiles NexPay: allow several minutes)"
    compose up -d --build --remove-orphans
    wait_healthy
    echo
    info "NexPay is up: ${VALUES[PUBLIC_URL]}/"
    if [[ ${VALUES[TRAEFIK_ENABLE_SSL]} == true ]]; then
        echo "    HTTPS certificates come from Let's Encrypt: $domain must resolve to this host"
        echo "    and ports 80 and 443 must be reachable from the internet."
    fi
    echo "    Admin login and live API keys: $NEXPAY_CREDENTIALS (readable by root only)"
    echo "    All settings and secrets:      $NEXPAY_DIR/.env (back it up)"
    echo "    Status: docker compose -f $NEXPAY_DIR/$COMPOSE_FILE_NAME ps"
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
    main "$@"
fi
