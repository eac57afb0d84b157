"""Fin-R1 on verl: data, reward, recipes and evaluation."""

__version__ = "0.1.0"
