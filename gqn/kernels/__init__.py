"""How the operations of :mod:`gqn.ops` run fast: NumPy kernels for the CPU, CuPy twins.

Chainer ``FunctionNode`` s whose NumPy passes avoid im2col and run memory-bound
work over threads: Winograd (:mod:`~gqn.kernels.winograd_convolution_2d`),
tap (:mod:`~gqn.kernels.tap_convolution_2d`) and shifted-GEMM
(:mod:`~gqn.kernels.convolution_2d`, which picks among them) convolutions, the
Winograd convolution of a concatenation with shared transforms
(:mod:`~gqn.kernels.concat_convolution_2d`), patch GEMMs
(:mod:`~gqn.kernels.patch_convolution`), ReLU; the fused elementwise functions
(:mod:`~gqn.kernels.conv_lstm_cell`, :mod:`~gqn.kernels.gaussian_kl`,
:mod:`~gqn.kernels.gaussian_nll`), each with a CuPy ``ElementwiseKernel``
(:mod:`~gqn.kernels.cuda_kernels`); the Adam update
(:mod:`~gqn.kernels.adam`); and the machinery they share: threads
(:mod:`~gqn.kernels.parallel`), scratch buffers (:mod:`~gqn.kernels.workspace`),
the BLAS choice (:mod:`~gqn.kernels.blas`). On CuPy arrays the convolutions
are Chainer's (cuDNN).

Importing this package imports nothing: :mod:`gqn` imports
:mod:`gqn.kernels.blas` before NumPy.
"""
