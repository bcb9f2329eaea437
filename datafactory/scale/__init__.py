"""Running stages on a Ray cluster (`--executor ray`): the same stage code, with Ray doing the fan-out."""
