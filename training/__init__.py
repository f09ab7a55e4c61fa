"""Training stage: the Keras NIMA, its EMD loss, dataset readers and the fit loop (TensorFlow here)."""
