"""Physics and surrogates: the PDE solver, dataset generators, training and export."""
