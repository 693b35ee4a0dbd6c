"""The conv-only spec in ``tests/data/conv_stack.yaml`` and its numbers, worked by hand.

Conv2d params = out * in / groups * kh * kw + out (bias); MACs = output elements * in / groups *
kh * kw (no bias); ConvTranspose2d MACs = input elements * out / groups * kh * kw.
Sizes: floor((n + 2p - d(k-1) - 1) / s) + 1; transposed: (n - 1) s - 2p + d(k-1) + 1.

    0 Conv2d 3->8, k3, p1        224 = 8*3*9 + 8          [8, 32, 32]   8192 * 27 = 221,184
    1 Conv2d 8->16, k3, s2       1,168 = 16*8*9 + 16      [16, 15, 15]  3600 * 72 = 259,200
      (trainable: false)
    2 Conv2d 16->16, k[4,5],     1,296 = 16*4*20 + 16     [16, 9, 7]    1008 * 80 = 80,640
      dilation 2, groups 4       H: 15 - 2*3 - 1 + 1 = 9, W: 15 - 2*4 - 1 + 1 = 7
    3 ConvTranspose2d 16->4, k2, s2
                                 260 = 16*4*4 + 4         [4, 18, 14]   1008 * 16 = 16,128
      (input elements 16*9*7 = 1008, each into 4 channels through a 2x2 kernel)

torchinfo's own mult-adds charge every weight and bias once per output position:
224*1024 + 1,168*225 + 1,296*63 + 260*252 = 639,344.

Receptive field (size, jump) per axis, H then W: 3/1; 3 + 2 = 5, jump 2; k_eff 7 and 9:
5 + 6*2 = 17 and 5 + 8*2 = 21, jump 2; transposed k 2, s 2: + (2-1)/2 * 2 = 18 and 22, jump 1.
Start (start_out = start_in + ((k_eff-1)/2 - p) j_in): 0 + (1 - 1) = 0; 0 + (1 - 0) * 1 = 1;
1 + 3*2 = 7 and 1 + 4*2 = 9; transposed (start_in + (p - (k_eff-1)/2) j_in / s):
7 - 1/2 * 2/2 = 6.5 and 8.5 (units 0 and 1 both copy input unit 0, centred on 7: their mean
centre, 6.5 + 1/2 * 1 = 7; tests/layers/test_receptive_field_resampling.py measures this rule).
"""

from __future__ import annotations

from pathlib import Path

PATH = Path(__file__).parent / "data" / "conv_stack.yaml"

OUT_SHAPES = [(8, 32, 32), (16, 15, 15), (16, 9, 7), (4, 18, 14)]
PARAMS = [224, 1_168, 1_296, 260]
TRAINABLE = [224, 0, 1_296, 260]
MACS = [221_184, 259_200, 80_640, 16_128]
RF = [(3, 3), (5, 5), (17, 21), (18, 22)]
JUMP = [(1, 1), (2, 2), (2, 2), (1, 1)]
START = [(0, 0), (1, 1), (7, 9), (6.5, 8.5)]

TOTAL_PARAMS = 2_948
TOTAL_TRAINABLE = 1_780
TOTAL_MACS = 577_152
TORCHINFO_MULT_ADDS = 639_344
