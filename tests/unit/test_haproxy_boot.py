"""The start-up answer of the HAProxy ingress: 503 + Retry-After, not Serve's 404 (serve/boot)."""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import serve

BOOT = Path(serve.__file__).resolve().parent / "boot" / "sitecustomize.py"


def load_boot():
    spec = importlib.util.spec_from_file_location("classpulse_boot", BOOT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # inserts its finder only if Ray's module is not loaded yet
    return module


def test_rays_template_still_has_the_rule_we_replace():
    """Fails loudly if a Ray upgrade changes the default backend (the patch would silently no-op)."""
    from ray.serve._private.haproxy_templates import HAPROXY_CONFIG_TEMPLATE
    boot = load_boot()
    assert HAPROXY_CONFIG_TEMPLATE.count(boot.RULE_404) == 1


def test_patched_template_answers_503_with_retry_after_and_the_error_shape():
    from ray.serve._private.haproxy_templates import HAPROXY_CONFIG_TEMPLATE
    boot = load_boot()
    patched = boot.patch_template(HAPROXY_CONFIG_TEMPLATE)
    assert boot.RULE_404 not in patched
    default_backend = patched.split("\nbackend default_backend\n", 1)[1].split("\n")[0]
    assert "return status 503" in default_backend and "hdr Retry-After 1" in default_backend
    assert '{"error":"the API is starting; retry shortly","field":null}' in default_backend


def test_launch_puts_the_boot_directory_first_for_a_local_cluster(tmp_path, monkeypatch):
    from classpulse.settings import Settings
    from serve.launch import prepare_environment
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_SERVE_")}
    monkeypatch.setattr(os, "environ", env | {"PYTHONPATH": "/somewhere"})  # no leak into other tests
    prepare_environment(Settings(data_dir=tmp_path, haproxy="auto"), tmp_path)
    assert os.environ["PYTHONPATH"].split(os.pathsep) == [str(BOOT.parent), "/somewhere"]
    monkeypatch.setattr(os, "environ", env | {"PYTHONPATH": "/somewhere"})
    prepare_environment(Settings(data_dir=tmp_path, haproxy="auto", address="10.0.0.1:6379"), tmp_path)
    # joining a cluster: its processes are not ours to change (and a PYTHONPATH of the caller's,
    # as the test runs export, used to fail the check that there was none)
    assert os.environ["PYTHONPATH"] == "/somewhere"
