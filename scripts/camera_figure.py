"""Draw the documentation figure of the camera convention (:mod:`renderer.figures`).

``python scripts/camera_figure.py [--out datasets/camera_convention.png]``
(with ``PYOPENGL_PLATFORM=egl`` on a machine without a display).
"""
import argparse
import os

import gqn  # noqa: F401  (first: picks NumPy's BLAS kernels, see gqn.kernels.blas)

# isort: split
from renderer import figures


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                           'datasets', 'camera_convention.png')
    parser.add_argument('--out', default=default)
    args = parser.parse_args()
    figures.write_figure(args.out)
    print(args.out)


if __name__ == '__main__':
    main()
