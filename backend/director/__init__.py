"""Director: an agent orchestrator whose whole model layer is LiteLLM.

Importing this package must stay cheap: LiteLLM (2+ s to import) is loaded lazily by ``director.llm``.
"""

__version__ = "0.1.0"
