"""Arabic named-entity recognition: features, the shipped CRF model at run time, linking and keys, training."""
