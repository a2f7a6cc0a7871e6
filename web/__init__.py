"""The local web app: FastAPI routers over the fabricate library."""
