"""Real adapters behind the agent's interfaces (transformers, detoxify).

Each module imports its heavy library lazily, inside the adapter, and fails with an install hint
when it is missing; importing this package costs nothing.
"""
