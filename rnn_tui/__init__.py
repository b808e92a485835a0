"""rnn-tui: watch recurrent networks think, one token at a time."""

__version__ = "0.1.0"
