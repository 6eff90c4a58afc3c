from cog import BasePredictor, Input


class Predictor(BasePredictor):
    def predict(
        self,
        scheduler: str = Input(description="Scheduler", choices=["DDIM", "K_EULER", "DPMSolver"], default="DDIM"),
        width: int = Input(description="Width", choices=[512, 768, 1024], default=768),
    ) -> str:
        return f"{scheduler}@{width}"
