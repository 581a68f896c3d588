"""The pipeline: pure stages, the steps both runners share, the Faust topology that wires them to topics."""
