#!/bin/sh
# Put together the files a Hugging Face Space needs, in the folder given (created, and emptied first).
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
out=${1:?usage: spaces/build.sh OUTPUT_FOLDER}
rm -rf "$out"
mkdir -p "$out"
cp -r "$here/app.py" "$here/ftstudio" "$here/assets" "$here/pyproject.toml" "$out/"
cp "$here/spaces/README.md" "$here/spaces/requirements.txt" "$here/spaces/packages.txt" "$out/"
find "$out" -name __pycache__ -type d -prune -exec rm -rf {} +
echo "Space files in $out: push them to the Space (spaces/README.md, step 2)."
