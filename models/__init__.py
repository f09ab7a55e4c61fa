"""The shipped default model(s). Data only; see MODEL_CARD.md."""
from pathlib import Path

MODELS_DIR = Path(__file__).resolve().parent
DEFAULT_MODEL = MODELS_DIR / "default.tflite"
