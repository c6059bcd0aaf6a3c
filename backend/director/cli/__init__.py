"""The ``director`` command: chat with a running server from a terminal (built on ``director.client``)."""
