"""`python -m nima_edge.cli ...`: the same as the `nima` console script."""
from nima_edge.cli import main

main()
