"""datafactory: prompts in, verified reasoning SFT data out."""

__version__ = "0.1.0"
