#!/bin/sh
# RabbitMQ's healthcheck in docker-compose.yml (run as `sh FILE`: podman's
# Docker API splits a healthcheck's arguments at spaces). Healthy: AMQP
# answers and, when PAPERQ_RABBITMQ_NODES > 1 (the cluster profile), that many
# nodes run in the cluster, so the programs, which wait for this, declare
# their quorum queues with a replica on every node.
set -e
rabbitmq-diagnostics -q check_port_connectivity >/dev/null
want=${PAPERQ_RABBITMQ_NODES:-1}
[ "$want" -le 1 ] && exit 0
running=$(rabbitmqctl -q eval 'length(nodes()) + 1.')
[ "$running" -ge "$want" ]
