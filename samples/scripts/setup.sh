#!/bin/sh
# Runs once at first boot, after cloud-config.
set -eu
echo "app01 provisioned" > /var/log/app-setup.log
