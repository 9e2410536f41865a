"""Saved risk models: write, load with checks, and pick the one a server uses.

A model is two files in a folder: ``risk-model.joblib`` (the fitted
scikit-learn pipeline) and ``risk-model.json`` (name, version, training date,
features, training and held-out cohorts, gate metrics, the sha256 of the
joblib file). ``resolve`` picks what ``classpulse serve`` uses: the data dir's
``models/`` folder when it holds a model, else the one shipped with the
package; a model that is missing, altered, built for other features or failed
its gate is not used, and the returned ``ModelInfo`` says why.
"""
from __future__ import annotations

import hashlib
import json
import warnings
from importlib import resources
from pathlib import Path

from engine.risk_features import FEATURES
from engine.risk_model import ModelInfo, RiskModel, rules_only

MODEL_FILE, META_FILE = "risk-model.joblib", "risk-model.json"


class ModelLoadError(Exception):
    """A model that cannot be used: the message is the fallback reason shown to professors."""


def save(model: RiskModel, folder: Path) -> Path:
    """Write both files; the version is derived from the model file's content."""
    import joblib
    import sklearn
    folder.mkdir(parents=True, exist_ok=True)
    joblib.dump(model.pipeline, folder / MODEL_FILE)
    digest = hashlib.sha256((folder / MODEL_FILE).read_bytes()).hexdigest()
    model.meta.update(version=f"1+{digest[:10]}", sha256=digest, sklearn=sklearn.__version__)
    (folder / META_FILE).write_text(json.dumps(model.meta, indent=2) + "\n")
    return folder / META_FILE


def load(folder: Path) -> RiskModel:
    """Load and check a saved model; ``ModelLoadError`` says why one cannot be used."""
    import joblib
    meta_path, model_path = folder / META_FILE, folder / MODEL_FILE
    if not meta_path.exists() or not model_path.exists():
        raise ModelLoadError(f"no trained model in {folder}")
    try:
        meta = json.loads(meta_path.read_text())
    except ValueError as exc:
        raise ModelLoadError(f"unreadable model metadata in {meta_path}: {exc}") from None
    if hashlib.sha256(model_path.read_bytes()).hexdigest() != meta.get("sha256"):
        raise ModelLoadError(f"{model_path} does not match the sha256 in its metadata")
    if tuple(meta.get("features", ())) != FEATURES:
        raise ModelLoadError("the saved model uses other features than this version computes; retrain it")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a minor scikit-learn change keeps a linear model's numbers
        return RiskModel(joblib.load(model_path), meta)


def shipped_folder() -> Path:
    """The default model that ships with the package (trained with ``classpulse model train``)."""
    return Path(str(resources.files("classpulse") / "models"))


def data_dir_folder(data_dir: Path) -> Path:
    return Path(data_dir) / "models"


def resolve(spec: str, data_dir: Path | None) -> tuple[RiskModel | None, ModelInfo]:
    """The model a server uses for ``spec`` ("auto", "rules" or a folder), with what to tell users."""
    if spec == "rules":
        return None, rules_only("the rules were chosen by configuration (CLASSPULSE_RISK_MODEL=rules)")
    if spec == "auto":
        own = data_dir_folder(data_dir) if data_dir is not None else None
        folder = own if own is not None and (own / META_FILE).exists() else shipped_folder()
    else:
        folder = Path(spec)
    try:
        model = load(folder)
    except ModelLoadError as exc:
        return None, rules_only(str(exc))
    except Exception as exc:  # noqa: BLE001 - a corrupt pickle or an incompatible library must not stop a server
        return None, rules_only(f"the model in {folder} could not be loaded ({exc.__class__.__name__}: {exc})")
    info = model.info()
    return (model if info.active else None), info
