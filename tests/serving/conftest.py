from tests.models.trained import (  # noqa: F401 (fixtures)
    iris,
    lgb_booster,
    lgb_model,
    onnx_model,
    sk_model,
    torch_module,
    torch_script,
    xgb_booster,
    xgb_model,
)
