"""Scoring archives on Apache Spark: the runtime's decision inside every executor (`nima spark-score`).

`records` needs only the runtime; `spark` needs pyspark (`pip install 'nima-edge[spark]'`) and
never TensorFlow. See docs/spark.md.
"""
