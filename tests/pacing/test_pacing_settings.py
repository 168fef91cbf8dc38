"""Per-resource rate settings in FERRY_RESOURCES: tier (S0 default, F0) and managementRate/getRate/listRate."""

from __future__ import annotations

import json

import pytest

from ferry import settings as fs

SUB = "00000000-0000-0000-0000-0000000000ab"


def entry(**extra):
    return {"endpoint": "https://a.cognitiveservices.azure.com", "region": "eastus", "apiVersion": "2024-11-30",
            "resourceId": f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts/a",
            **extra}


def parse(**extra) -> fs.Resource:
    return fs.parse({"FERRY_RESOURCES": json.dumps({"a": entry(**extra)})}).resource("a")


def test_default_tier_is_s0_with_the_services_limits():
    a = parse()
    assert a.tier == "S0"
    assert (a.rate("manage"), a.rate("get"), a.rate("list")) == (5, 50, 10)
    assert a.to_dict()["tier"] == "S0" and "managementRate" not in a.to_dict()


def test_f0_and_explicit_rates():
    assert [parse(tier="F0").rate(g) for g in fs.RATE_GROUPS] == [1, 1, 1]
    raised = parse(managementRate=15, listRate=2.5)
    assert (raised.rate("manage"), raised.rate("get"), raised.rate("list")) == (15, 50, 2.5)
    assert raised.to_dict()["managementRate"] == 15
    # the serialised entry parses back to the same resource
    again = fs.parse({"FERRY_RESOURCES": json.dumps({"a": {k: v for k, v in raised.to_dict().items()}})})
    assert again.resource("a") == raised
    with pytest.raises(ValueError, match="unknown rate group"):
        raised.rate("analyze")


@pytest.mark.parametrize(("extra", "fragment"), [
    ({"tier": "S1"}, "tier 'S1' is not known; use one of S0, F0"),
    ({"managementRate": 0}, "managementRate 0 must be a number of requests per second"),
    ({"getRate": "fast"}, "getRate 'fast' must be a number"),
    ({"listRate": True}, "listRate True must be a number"),
    ({"managementrate": 5}, "unknown field(s) managementrate"),
])
def test_bad_rate_settings_name_the_field(extra, fragment):
    with pytest.raises(fs.SettingsError) as info:
        fs.parse({"FERRY_RESOURCES": json.dumps({"a": entry(**extra)})})
    assert info.value.setting == "FERRY_RESOURCES"
    assert fragment in str(info.value)
