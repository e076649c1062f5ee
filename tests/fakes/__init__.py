"""Fakes for outside services that cannot run here; each speaks the real wire protocol."""
