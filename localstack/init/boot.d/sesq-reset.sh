#!/bin/bash
# LocalStack boot hook: forget the ready hook's status from an earlier run
# (docker compose restart keeps /tmp), so that the health check waits for
# this run's ready hook.
rm -f "${SESQ_INIT_STATUS:-/tmp/sesq-init.status}"
