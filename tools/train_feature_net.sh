#!/bin/sh
# Trains the feature network of sg.metrics.frechet_features / fid / kid /
# inception_score: models/fmnist_cnn.lua at 32x32 on Fashion-MNIST in the GAN
# layout (sg.data.fashion_mnist32: padded by 2, pixels in [-1,1]), 3 epochs,
# seed 1, and copies its weights to data/fmnist_features.safetensors. The
# safetensors metadata records the test accuracy (10,000 test images), seed,
# command, commit and input layout; data/fmnist_features.md describes the file.
#
#   sh tools/train_feature_net.sh [SGEN_BIN]     # about 2-5 minutes on 2 cores
#
# Run it once; the weights are committed. Retraining changes every FID/KID/IS
# value measured with them, so numbers from different weights do not compare.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-${SGEN_BIN:-$root/build/bin/sgen}}
out=$root/runs/feature_net/$(date -u +%Y%m%d-%H%M%S)
cd "$root"
"$bin" run experiments/fmnist_classifier.lua --size=32 --range=pm1 --epochs=3 --seed=1 --out="$out"
cp "$out/weights.safetensors" data/fmnist_features.safetensors
echo "wrote data/fmnist_features.safetensors (run: $out)"
