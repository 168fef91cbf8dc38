"""Fingerprints and is_copy_of on real source/target model pairs from the recordings; validate_model_id."""

from __future__ import annotations

import copy
import json

import pytest
from ferry_testkit import load_json_recording, load_yaml_recording

from ferry.docintel import is_copy_of
from ferry.docintel.fingerprint import fingerprint_v2, fingerprint_v3, normalize_time
from ferry.generations import validate_model_id

REC_V21 = "v2.1-preview.3__test_copy_model.test_copy_model_successful.yaml"
REC_V20 = "v2.0-preview__test_copy_model.test_copy_model_successful.yaml"
REC_V4 = ("2024-02-29-preview__documentintelligence__test_dmac_copy_model.pyTestCopyModelAsynctest_copy_model_"
          "successful_with_429s.json")
REC_V3 = "2023-02-28-preview__formrecognizer__test_dmac_copy_model.pyTestCopyModeltest_copy_model_successful.json"


def v2_pair(recording):
    """(source model body, target model body) of a recorded v2 copy (last GET of each model)."""
    exchanges = load_yaml_recording(recording)
    gets = [e for e in exchanges if e.method == "GET" and "/custom/models/" in e.uri and "copyresults" not in
            e.uri.lower() and e.status == 200]
    source, target = gets[-2].json(), gets[-1].json()
    assert source["modelInfo"]["modelId"] != target["modelInfo"]["modelId"]
    return source, target


@pytest.mark.parametrize("recording", [REC_V21, REC_V20])
def test_v2_recorded_copy_is_recognised(recording):
    source, target = v2_pair(recording)
    assert is_copy_of(fingerprint_v2(source), fingerprint_v2(target))


def test_v2_other_models_are_not_copies():
    source, target = v2_pair(REC_V21)
    retrained = copy.deepcopy(target)
    retrained["modelInfo"]["createdDateTime"] = "2021-03-20T10:00:00Z"
    assert not is_copy_of(fingerprint_v2(source), fingerprint_v2(retrained))
    other_data = copy.deepcopy(target)
    other_data["trainResult"]["trainingDocuments"].pop()
    assert not is_copy_of(fingerprint_v2(source), fingerprint_v2(other_data))


def test_v4_recorded_copy_with_renamed_doc_type_and_tags_is_recognised():
    gets = [e.json() for e in load_json_recording(REC_V4) if e.method == "GET" and "/documentModels/" in e.uri
            and e.status == 200]
    source, target = gets[0], gets[-1]
    assert source["modelId"] in source["docTypes"] and target["modelId"] in target["docTypes"]  # renamed
    assert target.get("tags") and not source.get("tags")
    fp_source, fp_target = fingerprint_v3(source), fingerprint_v3(target)
    assert is_copy_of(fp_source, fp_target)
    assert len(json.dumps(fp_target)) < 1024


def test_v3_copy_keeping_the_source_doc_type_name_is_recognised():
    ops = [e.json() for e in load_json_recording(REC_V3) if e.method == "GET" and "/operations/" in e.uri
           and e.json().get("status") == "succeeded"]
    built, copied = ops[0]["result"], ops[-1]["result"]
    assert built["modelId"] != copied["modelId"]
    # Make the case explicit: the copy keeps the source's id as its doc-type name (2022/2023 behaviour).
    renamed = copy.deepcopy(copied)
    renamed["docTypes"] = {built["modelId"]: next(iter(copied["docTypes"].values()))}
    assert is_copy_of(fingerprint_v3(built), fingerprint_v3(copied))
    assert is_copy_of(fingerprint_v3(built), fingerprint_v3(renamed))


def test_v3_other_models_are_not_copies():
    gets = [e.json() for e in load_json_recording(REC_V4) if e.method == "GET" and "/documentModels/" in e.uri
            and e.status == 200]
    source = gets[0]
    fp = fingerprint_v3(source)
    later = dict(source, createdDateTime="2024-03-06T02:50:30Z")
    assert not is_copy_of(fp, fingerprint_v3(later))
    fewer_fields = copy.deepcopy(source)
    spec = next(iter(fewer_fields["docTypes"].values()))
    spec["fieldSchema"].pop(next(iter(spec["fieldSchema"])))
    assert not is_copy_of(fp, fingerprint_v3(fewer_fields))
    other_doc_type = copy.deepcopy(source)
    other_doc_type["docTypes"] = {"receipt": next(iter(source["docTypes"].values()))}
    assert not is_copy_of(fp, fingerprint_v3(other_doc_type))
    assert not is_copy_of(fp, {**fp, "generation": "v2"})
    assert not is_copy_of({}, {}) and not is_copy_of(fp, None)


def test_time_normalization():
    assert normalize_time("2021-03-19T18:43:29.7579279Z") == "2021-03-19T18:43:29Z"
    assert normalize_time("2023-07-18T01:29:16.000Z") == normalize_time("2023-07-18T01:29:16Z")
    assert normalize_time("2023-07-18T03:29:16+02:00") == "2023-07-18T01:29:16Z"
    assert normalize_time(None) is None


@pytest.mark.parametrize("api_version, model_id, ok", [
    ("v2.0", "2a766146-bb85-4907-b438-23e6a35cb114", True),
    ("v2.1", "2A766146-BB85-4907-B438-23E6A35CB114", True),
    ("v2.1", "invoice-model", False),
    ("v2.1", "2a766146bb854907b43823e6a35cb114", False),
    ("2022-08-31", "invoice-model", True),
    ("2023-07-31", "a.b_c~d-e", True),
    ("2024-11-30", "2a766146-bb85-4907-b438-23e6a35cb114", True),
    ("2024-11-30", "x", False),
    ("2024-11-30", "-leading-dash", False),
    ("2024-11-30", "a" * 64, True),
    ("2024-11-30", "a" * 65, False),
    ("2024-11-30", "has space", False),
    ("2024-11-30", "slash/inside", False),
    ("2024-11-30", "", False),
    ("2024-11-30", None, False),
    ("2024-11-30", 42, False),
])
def test_validate_model_id(api_version, model_id, ok):
    problem = validate_model_id(api_version, model_id)
    assert (problem is None) is ok
    if not ok:
        assert "modelId" in problem


def test_validate_model_id_unknown_version():
    assert "not supported" in validate_model_id("2024-07-31-preview", "m1")
