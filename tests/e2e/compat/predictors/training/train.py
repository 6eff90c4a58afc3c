import tempfile

from cog import BaseModel, Input, Path


class TrainingOutput(BaseModel):
    weights: Path


def train(steps: int = Input(description="Training steps", default=3, ge=1)) -> TrainingOutput:
    weights = Path(tempfile.mkdtemp()) / "weights.bin"
    weights.write_bytes(b"w" * steps)
    return TrainingOutput(weights=weights)
