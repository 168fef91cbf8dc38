#!/bin/sh
# azd preprovision hook: check the placement before anything is deployed (infra/core/placement.bicep applies the
# same rule inside the deployment). The control plane (app, storage, monitoring, Key Vault) must not share the
# source region: ModelFerry is needed most when that region is down. Existing accounts are described in
# infra/main.parameters.json, not in azd variables, so for them the Bicep check alone decides.
set -eu
lower() { printf '%s' "$1" | tr '[:upper:]' '[:lower:]' | tr -d ' '; }

backend=${MODELFERRY_DURABLE_BACKEND:-azureStorage}
if [ "$backend" != "azureStorage" ] && [ "$backend" != "dts" ]; then
  echo "ModelFerry: MODELFERRY_DURABLE_BACKEND is '$backend'; use 'azureStorage' (the default) or 'dts' (Durable Task Scheduler)." >&2
  exit 1
fi
if [ "${MODELFERRY_CREATE_DOCUMENT_INTELLIGENCE:-true}" != "true" ]; then
  exit 0
fi
source_region=$(lower "${MODELFERRY_SOURCE_REGION:-${AZURE_LOCATION:-}}")
first_target=$(lower "${MODELFERRY_TARGET_REGIONS:-}" | tr ',' '\n' | sed '/^$/d' | head -n 1)
control=$(lower "${MODELFERRY_CONTROL_REGION:-}")
if [ -z "$control" ]; then
  control=${first_target:-$(lower "${AZURE_LOCATION:-}")}
fi
if [ "$control" = "$source_region" ] && [ "${MODELFERRY_ALLOW_CONTROL_IN_SOURCE_REGION:-false}" != "true" ]; then
  echo "ModelFerry: the control region ($control) is the source region. The app, its storage, monitoring and Key Vault would go down together with the source account, exactly when failover needs them. Set MODELFERRY_CONTROL_REGION to another region (default: the first of MODELFERRY_TARGET_REGIONS), or set MODELFERRY_ALLOW_CONTROL_IN_SOURCE_REGION=true to accept this on purpose." >&2
  exit 1
fi
echo "ModelFerry: control plane in $control, source account in $source_region, Durable backend $backend."
