"""Generative Query Networks in Chainer, trained on datasets you render yourself."""

__version__ = '0.1.0'
