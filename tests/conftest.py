"""Shared test setup. TensorFlow-heavy fixtures live in each stage's own test folder."""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "-1")
