#!/usr/bin/env bash
# Writes the ISBI 2012 split segkit uses as list files: slices 0-24 for training,
# 25-29 held out. The data is read in place. Usage: isbi_split.sh OUT_DIR [DATA_DIR]
set -euo pipefail
out=${1:?usage: isbi_split.sh OUT_DIR [DATA_DIR]}
data=$(realpath "${2:-$(dirname "$0")/../../shared/datasets/isbi2012}")
mkdir -p "$out"
: > "$out/train.txt"
: > "$out/val.txt"
for i in $(seq 0 29); do
  list=train.txt
  [ "$i" -ge 25 ] && list=val.txt
  echo "$data/images/$i.png $data/labels/$i.png" >> "$out/$list"
done
