from cog import BaseRunner, Input


class Runner(BaseRunner):
    def run(self, prompt: str = Input(default="run")) -> str:
        self.record_metric("prompt_length", len(prompt))
        return prompt.upper()
