#!/bin/sh
# Static configuration of Traefik for the NexPay production stack
# (docker-compose-prod.yml mounts this file and runs it as the container's entrypoint).
#
# Traefik takes its static configuration from ONE source (a file, flags or variables)
# and does not expand variables inside a file, so the settings that depend on the
# operator's .env (HTTPS or not, the Let's Encrypt contact) are passed as flags built
# here. The routing itself (which path goes to which service) lives in the labels of
# docker-compose-prod.yml and is discovered through the Docker provider, so every
# replica of a service is load-balanced.
#
#   TRAEFIK_ENABLE_SSL=false   plain HTTP on :80
#   TRAEFIK_ENABLE_SSL=true    HTTPS on :443 with Let's Encrypt certificates (HTTP-01
#                              challenge answered on :80); :80 redirects to HTTPS
#   ACME_EMAIL                 Let's Encrypt account contact (required with HTTPS)
#   ACME_CA_SERVER             optional ACME directory, e.g. Let's Encrypt staging for trials
#   TRAEFIK_LOG_LEVEL          optional, default INFO
#   TRAEFIK_DOCKER_NETWORK     optional, default nexpay-edge (the network shared with
#                              the routed services)
#
# The ping endpoint on :8080 (not published) serves the container health check.
set -eu

ssl=$(printf '%s' "${TRAEFIK_ENABLE_SSL:-false}" | tr '[:upper:]' '[:lower:]')

set -- traefik \
    --global.checknewversion=false \
    --global.sendanonymoususage=false \
    --log.level="${TRAEFIK_LOG_LEVEL:-INFO}" \
    --log.format=json \
    --accesslog=true \
    --accesslog.format=json \
    --ping=true \
    --entrypoints.traefik.address=:8080 \
    --entrypoints.web.address=:80 \
    --entrypoints.web.asdefault=true \
    --providers.docker=true \
    --providers.docker.exposedbydefault=false \
    --providers.docker.network="${TRAEFIK_DOCKER_NETWORK:-nexpay-edge}"

case "$ssl" in
    true | 1 | yes | on)
        if [ -z "${ACME_EMAIL:-}" ]; then
            echo "TRAEFIK_ENABLE_SSL=true needs ACME_EMAIL (the Let's Encrypt account contact) in .env" >&2
            exit 1
        fi
        set -- "$@" \
            --entrypoints.websecure.address=:443 \
            --entrypoints.websecure.asdefault=true \
            --entrypoints.websecure.http.tls.certresolver=letsencrypt \
            --entrypoints.web.http.redirections.entrypoint.to=websecure \
            --entrypoints.web.http.redirections.entrypoint.scheme=https \
            --certificatesresolvers.letsencrypt.acme.email="$ACME_EMAIL" \
            --certificatesresolvers.letsencrypt.acme.storage=/letsencrypt/acme.json \
            --certificatesresolvers.letsencrypt.acme.httpchallenge.entrypoint=web
        if [ -n "${ACME_CA_SERVER:-}" ]; then
            set -- "$@" --certificatesresolvers.letsencrypt.acme.caserver="$ACME_CA_SERVER"
        fi
        ;;
    false | 0 | no | off | "")
        ;;
    *)
        echo "TRAEFIK_ENABLE_SSL must be true or false, not '${TRAEFIK_ENABLE_SSL}'" >&2
        exit 1
        ;;
esac

exec "$@"
