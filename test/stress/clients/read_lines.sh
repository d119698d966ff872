#!/usr/bin/env bash
# Reads N lines from the out pipe, one open() per line: `read` on a FIFO reads byte by byte,
# so nothing beyond the line is taken from the pipe. Prints every line.
# usage: read_lines.sh OUT_PIPE N
out=$1 n=$2
for ((i = 0; i < n; i++)); do
  IFS= read -r line < "$out" || { echo "!eof after $i"; exit 1; }
  printf '%s\n' "$line"
done
