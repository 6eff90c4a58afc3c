from cog import BasePredictor, Input, Secret


class Predictor(BasePredictor):
    def predict(
        self,
        api_token: Secret = Input(description="Service token"),
        fallback_token: Secret = Input(description="Used when the service refuses", default="f4llb4ck"),
    ) -> str:
        print(f"token is {api_token}")  # masked
        return f"{len(api_token.get_secret_value())} and {len(fallback_token.get_secret_value())} characters"
