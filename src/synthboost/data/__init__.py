"""Data stage: CAMUS and SDM readers, the phantom generator, prepare, torch datasets."""
