"""MCP servers as agents: every tool of every server in ``DIRECTOR_MCP_CONFIG`` becomes an agent.

``config`` reads the file, ``hub`` keeps one connection per server alive on a background event loop
(shared by every session of this process), ``agents`` turns the hub's tools into ``BaseAgent`` classes.
"""
