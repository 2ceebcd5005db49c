#!/usr/bin/env python3
"""Writes tests/fixtures/sdk_request_models.json: what the official MetaStudio Python SDK
sends for each asset-library operation assetd serves (method, path, path/query/header
parameters, body model) and every field of every request model reachable from those bodies.

tests/api_openapi.rs checks /openapi.json against it. Re-run after changing the pinned SDK:

    ~/.cache/assetd-sdk-smoke/venv/bin/python scripts/sdk-request-models.py
"""
import json
import os
import sys

from huaweicloudsdkmetastudio.v1 import MetaStudioClient
import huaweicloudsdkmetastudio.v1 as v1
import huaweicloudsdkmetastudio

# The operations of spec/endpoints.json: the asset library and its files.
OPERATIONS = [
    "create_digital_asset", "list_assets", "show_asset", "update_digital_asset", "delete_asset",
    "restore_asset", "list_asset_summary", "batch_execute_asset_action",
    "show_asset_replication_info", "create_asset_by_replication_info", "create_file",
    "create_large_file", "confirm_file_upload", "delete_file",
]
PRIMITIVES = {"str", "int", "float", "bool", "object", "datetime", "date"}


def camel(name):
    return "".join(part.capitalize() for part in name.split("_"))


def model_class(type_name):
    """The model class named in an openapi_types entry like `list[Foo]` or `dict(str, Foo)`."""
    inner = type_name
    while True:
        if inner.startswith("list[") and inner.endswith("]"):
            inner = inner[5:-1]
        elif inner.startswith("dict(") and inner.endswith(")"):
            inner = inner[5:-1].split(",", 1)[1].strip()
        else:
            break
    if inner in PRIMITIVES:
        return None
    return getattr(v1, inner, None)


def collect_models(cls, models):
    if cls is None or cls.__name__ in models:
        return
    models[cls.__name__] = {
        cls.attribute_map[attr]: cls.openapi_types[attr] for attr in sorted(cls.openapi_types)
    }
    for type_name in cls.openapi_types.values():
        collect_models(model_class(type_name), models)


def main():
    operations = []
    models = {}
    for name in OPERATIONS:
        request_cls = getattr(v1, camel(name) + "Request")
        request = request_cls()
        for attr in request.openapi_types:
            setattr(request, attr, "x")
        # Every SDK operation builds its HTTP call in a class method from the request.
        info = getattr(MetaStudioClient, "_%s_http_info" % name)(request)
        params = {"path": [], "query": [], "header": []}
        body_model = None
        for attr in sorted(request.openapi_types):
            wire = request.attribute_map[attr]
            if attr == "body":
                body_model = request.openapi_types[attr]
            elif wire in info["path_params"]:
                params["path"].append(wire)
            elif any(key == wire for key, _ in info["query_params"]):
                params["query"].append(wire)
            elif any(key.lower() == wire.lower() for key in info["header_params"]):
                header = next(k for k in info["header_params"] if k.lower() == wire.lower())
                params["header"].append(header)
            else:
                sys.exit("%s: cannot tell where %s goes" % (name, attr))
        if body_model:
            collect_models(model_class(body_model), models)
        operations.append({
            "name": name,
            "method": info["method"],
            "path": info["resource_path"],
            "path_params": ["project_id"] + params["path"],
            "query_params": params["query"],
            "header_params": params["header"],
            "body_model": body_model,
        })
    out = {
        "sdk": "huaweicloudsdkmetastudio " + getattr(huaweicloudsdkmetastudio, "__version__", "3.1.219"),
        "operations": operations,
        "models": dict(sorted(models.items())),
    }
    here = os.path.dirname(os.path.abspath(__file__))
    path = os.path.join(here, "..", "tests", "fixtures", "sdk_request_models.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=1, sort_keys=False)
        f.write("\n")
    print("wrote %s: %d operations, %d models" % (os.path.normpath(path), len(operations), len(models)))


if __name__ == "__main__":
    main()
