"""The Ray Serve deployment wrapping the FastAPI app.

The app is built on the replica (``__serve_build_asgi_app__``), so nothing
unpicklable crosses from the driver. ``max_ongoing_requests`` is high because
every open WebSocket counts as one ongoing request. Access logs are off: URLs
may carry ``?token=``.
"""
from __future__ import annotations

from typing import Any

from ray import serve
from ray.serve.config import AutoscalingConfig
from ray.serve.schema import LoggingConfig

from serve.app import ApiConfig, build_app


@serve.ingress()
class Api:
    def __init__(self, config: ApiConfig) -> None:
        self._config = config

    def __serve_build_asgi_app__(self):
        return build_app(self._config)


def application(config: ApiConfig, replicas: int = 1, max_ongoing_requests: int = 10_000,
                num_cpus: float = 0.2, autoscale_max: int = 0) -> Any:
    options: dict[str, Any] = {
        "name": "Api",
        "max_ongoing_requests": max_ongoing_requests,
        "ray_actor_options": {"num_cpus": num_cpus},
        "logging_config": LoggingConfig(enable_access_log=False, log_level="WARNING"),
        "health_check_period_s": 5,
    }
    if autoscale_max > replicas:
        options["autoscaling_config"] = AutoscalingConfig(
            min_replicas=replicas, max_replicas=autoscale_max,
            target_ongoing_requests=max(1, max_ongoing_requests // 4))
    else:
        options["num_replicas"] = replicas
    return serve.deployment(Api).options(**options).bind(config)
