"""Loaded by every Python process of a stack's local Ray cluster (``serve.launch`` puts this
directory first on PYTHONPATH before Ray starts).

It changes one thing: what HAProxy answers while no app is routed yet. Ray Serve's generated
HAProxy config sends such requests to a default backend that answers ``404 Path not found``;
that happens for ~3 s at every start, between HAProxy binding the port and the app's replica
being ready. After a restart under load that 404 reached clients as a hard error, though the
truth is "not ready yet". Here the default backend answers ``503`` with ``Retry-After: 1`` and
the API's error shape, so clients retry (docs/architecture.md, "Starting and restarting").

The patch is applied when ``ray.serve._private.haproxy`` is imported (only in Serve's HAProxy
manager); if Ray's template changes and the rule is not found, nothing is changed.
"""
from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys

TARGET = "ray.serve._private.haproxy"
RULE_404 = ("http-request return status 404 content-type text/plain lf-string "
            "\"Path '%[path]' not found. Ping http://.../-/routes for available routes.\"")
RULE_503 = ("http-request return status 503 content-type application/json hdr Retry-After 1 "
            "string '{\"error\":\"the API is starting; retry shortly\",\"field\":null}'")


def patch_template(template: str) -> str:
    """The HAProxy config template with the default backend answering 503 (unchanged if absent)."""
    return template.replace(RULE_404, RULE_503)


class _PatchOnImport(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name != TARGET:
            return None
        sys.meta_path.remove(self)
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return spec
        run = spec.loader.exec_module

        def exec_module(module) -> None:
            run(module)
            module.HAPROXY_CONFIG_TEMPLATE = patch_template(module.HAPROXY_CONFIG_TEMPLATE)

        spec.loader.exec_module = exec_module
        return spec


if TARGET not in sys.modules:
    sys.meta_path.insert(0, _PatchOnImport())
