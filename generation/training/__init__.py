"""Training emotion LoRAs and checking them: from a folder of clips to a style the service switches to.

    dataset.py     `lora prepare`: videos -> fixed-size N-frame clips + metadata.jsonl
    objectives.py  per family: VAE latents, text embeddings, the denoiser call and its loss
    cache.py       latents and text embeddings computed once per dataset and model
    trainer.py     `lora train`: the loop (peft LoRA, accelerate, checkpoints that resume exactly)
    evaluate.py    `lora eval`: with vs without the LoRA on own- and other-emotion prompts
    prompts.py     the dream prompts per emotion (emotion names; the eval set)
    cli.py         argument parsing and exit codes (0 ok, 1 failed, 2 bad input)

Importing this package does not import torch; training does.
"""

from generation.training.base import TRAINABLE_FAMILIES, TrainingError, check_trainable

__all__ = ["TRAINABLE_FAMILIES", "TrainingError", "check_trainable"]
