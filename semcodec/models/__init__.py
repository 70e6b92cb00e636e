"""Lazy wrappers over pretrained components, and where their weights come from.

Every semantic codec reaches LLaVA, BLIP, BART, Stable Diffusion + IP-Adapter, FCN and CLIP
through this package only, so the same code runs a user's real models and the tests' tiny
random ones (:mod:`semcodec.testing`). Nothing here imports torch or transformers at import
time; each component loads on first use, once per process.
"""
