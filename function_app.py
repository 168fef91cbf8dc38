"""ModelFerry's Function App: the composition root. One DFApp, one Blueprint per folder, nothing else."""

import azure.durable_functions as df
import azure.functions as func

from activities import bp as activities_bp
from CopyOrchestrator import bp as orchestrators_bp
from EventGridStart import bp as event_grid_bp
from HttpStart import bp as http_bp
from OperatorApi import bp as operator_bp
from ResourceBudget import bp as budget_bp
from SyncOrchestrator import bp as sync_bp
from SyncStart import bp as sync_start_bp

app = df.DFApp(http_auth_level=func.AuthLevel.FUNCTION)
for blueprint in (http_bp, event_grid_bp, sync_start_bp, orchestrators_bp, sync_bp, activities_bp, budget_bp,
                  operator_bp):
    app.register_functions(blueprint)
