#!/bin/sh
# Run once when compose.yaml's postgres is initialised: streaming replicas (the cluster
# profile's postgres-replica) may connect for replication from the compose network.
echo "host replication all all trust" >> "$PGDATA/pg_hba.conf"
