#!/bin/sh
# azd postdown hook: the resources are gone, so the next `azd up` must provision without the Event Grid
# subscription first (the function does not exist yet) and let postdeploy.sh add it.
set -eu
azd env set MODELFERRY_CREATE_EVENT_SUBSCRIPTION false
