"""Train the serving benchmark's models and save them in the formats each server reads.

Run with the bench venv's python (it has mlflow 3.17.2 and scikit-learn):
    .bench-venv/bin/python bench/serving/train_models.py OUT_DIR

For each model NAME it writes, under OUT_DIR/NAME/:
    mlflow/               an MLflow model dir (mlflow.sklearn.save_model, tensor signature float64 (-1, F),
                          skops format: MLflow 3.17's default);
                          served by `mlflow models serve` and `modelyard serve-model`
    mlserver/NAME/        model-settings.json + model.joblib for MLServer's sklearn runtime
                          (`mlserver start OUT_DIR/NAME/mlserver`); model.joblib is also what the bare
                          uvicorn app loads
    requests.json         {"n_features", "n_classes", "rows": {"1": [[...]], "100": [[...]]},
                          "expected": {"1": [...], "100": [...]}}  (expected = model.predict locally)

Everything is seeded, so every run produces the same models, rows and expected predictions.
"""

from __future__ import annotations

import json
import sys
from importlib.metadata import version
from pathlib import Path

import joblib
import numpy as np
from sklearn.datasets import load_iris, make_classification
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.linear_model import LogisticRegression

SEED = 0
BATCH_SIZES = (1, 100)


def build() -> dict[str, tuple[object, np.ndarray]]:
    x, y = make_classification(
        n_samples=2000, n_features=20, n_informative=10, n_redundant=4, random_state=SEED
    )
    gbc = GradientBoostingClassifier(n_estimators=100, random_state=SEED).fit(x, y)
    iris = load_iris()
    lr = LogisticRegression(max_iter=1000).fit(iris.data, iris.target)
    return {"gbc": (gbc, x), "iris": (lr, iris.data.astype(np.float64))}


def save(name: str, model: object, x: np.ndarray, out: Path) -> None:
    import mlflow.sklearn
    from mlflow.models import infer_signature

    d = out / name
    d.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED)
    order = rng.permutation(len(x))
    rows = {str(n): x[order[:n]] for n in BATCH_SIZES}
    expected = {k: model.predict(v).tolist() for k, v in rows.items()}  # type: ignore[attr-defined]

    signature = infer_signature(x, model.predict(x))  # type: ignore[attr-defined]
    mlflow.sklearn.save_model(
        model,
        str(d / "mlflow"),
        signature=signature,
        # MLflow 3.17's default format (skops); GradientBoosting's trees must be named as trusted
        skops_trusted_types=["sklearn.tree._tree.Tree"] if name == "gbc" else None,
        # naming the requirement skips mlflow's (slow) requirement inference
        pip_requirements=[f"scikit-learn=={version('scikit-learn')}"],
    )
    ms = d / "mlserver" / name  # MLServer warns when the folder name differs from the model name
    ms.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, ms / "model.joblib")
    (ms / "model-settings.json").write_text(
        json.dumps(
            {
                "name": name,
                "implementation": "mlserver_sklearn.SKLearnModel",
                "parameters": {"uri": "./model.joblib", "version": "v1"},
            },
            indent=2,
        )
    )
    (d / "requests.json").write_text(
        json.dumps(
            {
                "n_features": int(x.shape[1]),
                "n_classes": len(model.classes_),  # type: ignore[attr-defined]
                "rows": {k: v.tolist() for k, v in rows.items()},
                "expected": expected,
            }
        )
    )


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit("usage: train_models.py OUT_DIR")
    out = Path(sys.argv[1])
    for name, (model, x) in build().items():
        save(name, model, x, out)
        print(f"train: {name} saved under {out / name}")


if __name__ == "__main__":
    main()
