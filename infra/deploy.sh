#!/usr/bin/env bash
# Build the images from this checkout and deploy them, from a clean checkout or after a change:
#
#   infra/deploy.sh                 # plan and ask before each apply
#   infra/deploy.sh -auto-approve   # extra arguments go to both `terraform apply` runs
#
# Needs gcloud (logged in: `gcloud auth login` and `gcloud auth application-default login`),
# terraform, and infra/terraform.tfvars. Steps:
#   1. terraform apply of what a build needs (APIs, Artifact Registry repository, build account
#      and staging bucket), nothing else;
#   2. for each image the services need (cpu, and gpu when a service runs vlm), a tag that is a
#      hash of the build inputs (Dockerfile, cloudbuild.yaml, requirements*.txt, main.py,
#      functions/, common/); an image with that tag already in the repository is reused,
#      otherwise Cloud Build builds it (cloudbuild.yaml);
#   3. the digests go to infra/images.auto.tfvars.json and terraform apply deploys them.
# Unchanged inputs give the same tag, the same digest, and a plan with no changes; a change to
# any input gives a new image, a new digest and a new revision.
set -euo pipefail

infra="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$infra")"
cd "$infra"

tf_eval() {  # one value of the configuration or state, without quotes
  echo "$1" | terraform console | tr -d '"'
}

terraform init -input=false

terraform apply -input=false \
  -target=google_project_service.apis \
  -target=google_artifact_registry_repository.images \
  -target=google_storage_bucket.build \
  -target=google_storage_bucket_iam_member.build_reads_source \
  -target=google_artifact_registry_repository_iam_member.build_pushes_images \
  -target=google_project_iam_member.build_writes_logs \
  "$@"

project="$(tf_eval 'var.project_id')"
region="$(tf_eval 'var.region')"
image_repo="$(tf_eval 'format("%s-docker.pkg.dev/%s/%s", var.region, var.project_id, google_artifact_registry_repository.images.repository_id)')"
build_account="$(tf_eval 'google_service_account.build.id')"
build_bucket="$(tf_eval 'google_storage_bucket.build.name')"
needed="$(tf_eval 'join(" ", module.plan.images_needed)')"

# The build inputs, as the .gcloudignore uploads them; the file list and every byte count.
inputs_hash="$(
  cd "$repo"
  find Dockerfile .dockerignore cloudbuild.yaml requirements.txt requirements-vlm.txt requirements-gpu.txt \
    main.py functions common -type f ! -name '*.pyc' ! -path '*/__pycache__/*' -print0 |
    LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -c1-24
)"

declare -A digests=()
for kind in $needed; do
  image="$image_repo/$kind:src-$inputs_hash"
  digest="$(gcloud artifacts docker images describe "$image" --format='value(image_summary.digest)' 2>/dev/null || true)"
  if [[ -z "$digest" ]]; then
    echo "building $image (Cloud Build, target $kind)" >&2
    (cd "$repo" && gcloud builds submit . \
      --project="$project" --region="$region" \
      --config=cloudbuild.yaml \
      --substitutions="_TARGET=$kind,_IMAGE=$image" \
      --service-account="$build_account" \
      --gcs-source-staging-dir="gs://$build_bucket/source")
    digest="$(gcloud artifacts docker images describe "$image" --format='value(image_summary.digest)')"
  else
    echo "reusing $image: these inputs were built already" >&2
  fi
  [[ "$digest" =~ ^sha256:[0-9a-f]{64}$ ]] || { echo "no digest for $image: $digest" >&2; exit 1; }
  digests[$kind]="$image_repo/$kind@$digest"
done

{
  echo '{'
  echo '  "image_digests": {'
  first=1
  for kind in cpu gpu; do
    [[ -n "${digests[$kind]:-}" ]] || continue
    [[ $first == 1 ]] || echo ','
    printf '    "%s": "%s"' "$kind" "${digests[$kind]}"
    first=0
  done
  echo
  echo '  }'
  echo '}'
} > images.auto.tfvars.json

terraform apply -input=false "$@"
