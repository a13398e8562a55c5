# A stand-in for the official rabbitmq:*-management image, for machines that
# cannot pull it (the compose test here): Debian's rabbitmq-server (3.10, which
# has quorum queues and x-delivery-limit) with the management plugin, laid out
# like the official image: config from /etc/rabbitmq/conf.d/*.conf, data in
# /var/lib/rabbitmq, logs on stdout, running as `rabbitmq` in the foreground.
# docker-compose.yml mounts the same files into it as into the real image.
#
#   docker build -f tests/compose/rabbitmq.Dockerfile -t paperq-test/rabbitmq .
#   RABBITMQ_IMAGE=paperq-test/rabbitmq docker compose up
FROM debian:bookworm-slim

# No init system in a container: keep the package's postinst from trying to
# start the service.
RUN printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d \
 && apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends rabbitmq-server \
 && rm -rf /var/lib/apt/lists/* /var/log/rabbitmq/* \
 && rabbitmq-plugins enable --offline rabbitmq_management \
 && rm -f /etc/rabbitmq/rabbitmq-env.conf

# What the official image's 10-defaults.conf and environment amount to.
RUN mkdir -p /etc/rabbitmq/conf.d \
 && printf '%s\n' \
      'loopback_users.guest = false' \
      'listeners.tcp.default = 5672' \
      'management.tcp.port = 15672' \
      'log.console = true' \
      'log.console.level = info' \
      'log.file = false' \
      >/etc/rabbitmq/conf.d/10-defaults.conf \
 && chown -R rabbitmq:rabbitmq /etc/rabbitmq /var/lib/rabbitmq

ENV RABBITMQ_CONFIG_FILES=/etc/rabbitmq/conf.d \
    HOME=/var/lib/rabbitmq
VOLUME /var/lib/rabbitmq
EXPOSE 5672 15672
USER rabbitmq
# /usr/sbin/rabbitmq-server (Debian's wrapper) would send the log to
# /var/log/rabbitmq/startup_log; the script behind it logs to stdout.
CMD ["/usr/lib/rabbitmq/bin/rabbitmq-server"]
