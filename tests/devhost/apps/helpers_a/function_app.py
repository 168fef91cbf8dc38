"""Sample app importing a helper package whose name another sample app also uses."""

import azure.durable_functions as df
import helper

app = df.DFApp()


@app.activity_trigger(input_name="value")
def who(value: str) -> str:
    return helper.WHO
