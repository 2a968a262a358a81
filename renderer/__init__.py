"""Procedural 3D scene datasets for GQN, rendered offscreen with pyrender."""
