"""modelpins: model_pins.yaml is the desired state of an MLflow Model Registry."""

__version__ = "0.1.0"
