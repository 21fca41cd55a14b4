#!/usr/bin/env bash
# Writes deploy/images.env's registry, repository and tag into the places
# that cannot read it: deploy/base/kustomization.yaml's `images:` (the
# services) and deploy/jobs/*.yaml (the migrator's Jobs: kustomize cannot
# render a Job with generateName, so each names its image). A release bump:
#   edit IMAGE_TAG (or IMAGE_REGISTRY) in deploy/images.env
#   deploy/set-images.sh
# tests/deploy_check refuses any image that disagrees with images.env, so a
# place missed here fails ctest.
set -euo pipefail
cd "$(dirname "$0")"
# shellcheck source=deploy/images.env disable=SC1091
. ./images.env
prefix="$IMAGE_REGISTRY/$IMAGE_REPOSITORY"
for name in $IMAGE_NAMES; do
  sed -i -E "s|^( +newName: ).*/$name\$|\\1$prefix/$name|" base/kustomization.yaml
  sed -i -E "s|^( +image: )[^ ]*/$name:[^ ]*\$|\\1$prefix/$name:$IMAGE_TAG|" jobs/*.yaml
done
sed -i -E "s|^( +newTag: ).*\$|\\1$IMAGE_TAG|" base/kustomization.yaml
echo "set-images: $prefix/{${IMAGE_NAMES// /,}}:$IMAGE_TAG"
