"""Front doors other than OpenAI chat: adapters into the chat contract and back (see base.py)."""
