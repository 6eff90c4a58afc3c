"""From a model directory to an image: cog.yaml (`config`), the Dockerfile (`dockerfile`), the build
context (`context`), the Docker SDK build and push (`build`), and loopback servers (`serve`)."""
