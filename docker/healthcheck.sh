#!/bin/bash
# The image's HEALTHCHECK: GET /readyz on the container's own loopback, healthy
# on a 200. Plain bash (/dev/tcp), since the slim image has no curl and the
# daemon needs no probe mode for it. The port is SLUICE_HEALTH_PORT, else the
# port of SLUICE_LISTEN (the image sets 0.0.0.0:8080); set SLUICE_HEALTH_PORT
# when a mounted configuration listens elsewhere. Plain HTTP only: with
# server.tls, override the HEALTHCHECK (see docs/operations.md).
listen=${SLUICE_LISTEN:-0.0.0.0:8080}
port=${SLUICE_HEALTH_PORT:-${listen##*:}}
exec 3<>"/dev/tcp/127.0.0.1/$port" || exit 1
printf 'GET /readyz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' >&3
read -r -t 5 _ status _ <&3 || exit 1
[ "$status" = 200 ]
