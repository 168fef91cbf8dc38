"""An app with a binding the devhost does not serve: it must be refused at start, not skipped."""

import azure.functions as func

app = func.FunctionApp()


@app.queue_trigger(arg_name="msg", queue_name="jobs", connection="AzureWebJobsStorage")
def on_job(msg: func.QueueMessage) -> None:
    return None
