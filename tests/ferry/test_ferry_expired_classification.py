"""An expired copy authorization, exactly as the emulator's error factory answers it, is kind "authorization"."""

import pytest

from emulators.docintel import errors as service_errors
from ferry.errors import HINTS, classify


@pytest.mark.parametrize("api_version, make", [("v2.1", service_errors.v2_authorization_expired),
                                               ("v2.0", service_errors.v2_authorization_expired),
                                               ("2023-07-31", service_errors.v3_authorization_expired),
                                               ("2024-11-30", service_errors.v3_authorization_expired)])
def test_expired_authorization_on_the_copy_post_means_reauthorize(api_version, make):
    answer = make()
    error = classify(status=answer.status, headers={"apim-request-id": "r-1"}, body=answer.body,
                     api_version=api_version, operation="copy", resource="src")
    assert error.kind == "authorization" and not error.retryable
    assert error.code == "1002" and error.status == 400 and "expired" in error.message
    assert error.hint == HINTS["authorization"]
