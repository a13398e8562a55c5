#!/bin/sh
# RabbitMQ's healthcheck in docker-compose.yml (run as `sh FILE`: podman's
# Docker API splits a healthcheck's arguments at spaces). Healthy: AMQP
# answers and, when PAPERQ_RABBITMQ_NODES > 1 (the cluster profile), that many
# nodes are members of the cluster and each has finished booting. The
# programs wait for this before they declare their quorum queues, and a quorum
# queue gets its replicas on the members of that moment only: RabbitMQ 3.x
# does not add a node that joins later. A check that counted connected Erlang
# nodes (`nodes()`) passed while a node was still joining; the queues got two
# replicas, and killing one node took their majority (seen in CI, stop 19).
#
# Once the whole cluster has been seen, /tmp/paperq-cluster-formed remembers
# it and later checks only ask for the AMQP port: a node going down later is
# what the cluster is for, not a reason to call this node unhealthy.
set -e
rabbitmq-diagnostics -q check_port_connectivity >/dev/null
want=${PAPERQ_RABBITMQ_NODES:-1}
[ "$want" -le 1 ] && exit 0
[ -f /tmp/paperq-cluster-formed ] && exit 0
# `cluster_status --formatter json` is the CLI's documented output (the same in
# RabbitMQ 3.10 and 4.x); "running_nodes" lists the members whose database runs.
nodes=$(rabbitmq-diagnostics -q cluster_status --formatter json |
  sed -n 's/.*"running_nodes":\[\([^]]*\)\].*/\1/p' | tr -d '"' | tr ',' ' ')
n=0
for node in $nodes; do
  # A member whose database runs may still be booting: ask it.
  rabbitmq-diagnostics -q -n "$node" check_running >/dev/null
  n=$((n + 1))
done
if [ "$n" -lt "$want" ]; then
  echo "cluster: $n of $want nodes running (${nodes:-none})" >&2
  exit 1
fi
touch /tmp/paperq-cluster-formed
