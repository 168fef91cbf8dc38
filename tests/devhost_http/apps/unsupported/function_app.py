"""An app with a queue trigger: the devhost must refuse it at start, naming the function and the binding."""

import azure.functions as func

app = func.FunctionApp()


@app.queue_trigger(arg_name="msg", queue_name="work", connection="AzureWebJobsStorage")
def on_message(msg: func.QueueMessage) -> None:
    pass
