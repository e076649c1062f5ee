"""Content safety: rules (Korean morphemes, English patterns), profanity signals, the policy combiner."""

from agent.safety.policy import SafetyPolicy
from agent.safety.rewrite import soften_prompt

__all__ = ["SafetyPolicy", "soften_prompt"]
